"""Which family a UNet belongs to, and where InstantStyle (Wang et al., 2024) found style and
composition in it: on SDXL single attention modules, on SD 1.5 (which its authors call
experimental) whole blocks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TITLES: Mapping[str, str] = {"sd15": "SD 1.5", "sdxl": "SDXL"}  # how the page names each family
# What a family's model folders hold besides the UNet, for a UNet met alone (model_index.json and the
# VAE's config say it for a folder): every Stable Diffusion VAE shrinks by 8.
TEXT_ENCODERS: Mapping[str, tuple[str, ...]] = {"sd15": ("text_encoder",), "sdxl": ("text_encoder", "text_encoder_2")}
VAE_SCALE_FACTOR = 8
# family -> (style, composition): a module's name or the block holding the modules meant.
INSTANT_STYLE: Mapping[str, tuple[str, str]] = {
    "sd15": ("up_blocks.1", "down_blocks.2"),
    "sdxl": ("up_blocks.0.attentions.1", "down_blocks.2.attentions.1"),
}


def family_of(unet: Mapping[str, Any]) -> str:
    """SDXL conditions on the pooled text embedding and size/crop time ids; SD 1.5 (and 2.x) do not."""
    return "sdxl" if unet.get("addition_embed_type") == "text_time" else "sd15"


def _within(module: str, place: str) -> bool:
    return module == place or module.startswith(place + ".")


def instant_style(family: str, modules: tuple[str, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The indices of the style modules and of the composition modules among ``modules``."""
    return tuple(
        tuple(index for index, module in enumerate(modules) if _within(module, place))
        for place in INSTANT_STYLE[family]
    )  # type: ignore[return-value]
