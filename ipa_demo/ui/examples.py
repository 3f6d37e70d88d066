"""Examples from assets/: each one sets every control (images, prompt, λ, mask, sampling, ...)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gradio as gr

from ..architecture.layers import MASK_PRESETS
from ..settings import ControlNetSettings, GenerationSettings, IPAdapterSettings
from ..settings.declarations import IMAGE_PARAMS
from ..settings.values import PARAMS, values_from_settings
from .controls import Controls

ASSETS = Path(__file__).resolve().parents[2] / "assets"
_BASE = GenerationSettings(prompt="", negative_prompt="lowres, blurry, watermark, text", seed=42, steps=30)


@dataclass(frozen=True)
class Example:
    label: str
    settings: GenerationSettings
    references: tuple[str, ...] = ()
    init_image: str | None = None
    control_image: str | None = None

    def values(self, assets: Path = ASSETS) -> dict[str, Any]:
        values = {**values_from_settings(self.settings), **dict.fromkeys(IMAGE_PARAMS)}
        values["reference_images"] = [str(assets / name) for name in self.references] or None
        values["init_image"] = str(assets / self.init_image) if self.init_image else None
        values["control_image"] = str(assets / self.control_image) if self.control_image else None
        values["mask_image"] = None
        return values


def _ip(scale: float, preset: str) -> IPAdapterSettings:
    return IPAdapterSettings(scale=scale, mask=MASK_PRESETS[preset])


EXAMPLES: tuple[Example, ...] = (
    Example(
        "Cat, oil painting (all layers)",
        replace(_BASE, prompt="a cat, oil painting, thick brush strokes", ip=_ip(0.7, "all")),
        references=("chelsea.jpg",),
    ),
    Example(
        "Coffee colours on a lighthouse (style)",
        replace(_BASE, prompt="a lighthouse on a cliff", seed=7, ip=_ip(1.0, "style")),
        references=("coffee.jpg",),
    ),
    Example(
        "Rocket's layout, new subject (composition)",
        replace(_BASE, prompt="a tall glass tower at dusk, photo", seed=3, ip=_ip(0.8, "composition")),
        references=("rocket.jpg",),
    ),
    Example(
        "House edges + ControlNet, coffee style",
        replace(
            _BASE,
            prompt="a cozy cottage, warm evening light",
            seed=11,
            ip=_ip(0.6, "style+composition"),
            controlnet=ControlNetSettings(kind="canny", scale=0.9),
            control_is_map=True,
        ),
        references=("coffee.jpg",),
        control_image="house-edges.png",
    ),
    Example(
        "img2img: the cat in coffee tones",
        replace(_BASE, prompt="a cat, warm brown tones", seed=5, strength=0.6, ip=_ip(0.8, "style")),
        references=("coffee.jpg",),
        init_image="chelsea.jpg",
    ),
)


def files_present(example: Example, assets: Path = ASSETS) -> bool:
    names = [*example.references, example.init_image, example.control_image]
    return all((assets / name).is_file() for name in names if name)


# Every API parameter but the base model: an example keeps the model the page has picked.
EXAMPLE_PARAMS = tuple(name for name in PARAMS if name != "base_model")


def example_rows(examples: tuple[Example, ...] = EXAMPLES, assets: Path = ASSETS) -> list[list[Any]]:
    """One row per example, one value per API parameter (EXAMPLE_PARAMS order)."""
    return [[example.values(assets)[name] for name in EXAMPLE_PARAMS] for example in examples]


def add_examples(controls: Controls, examples: tuple[Example, ...] = EXAMPLES) -> None:
    """The examples whose images are at hand (an installed package may come without assets/)."""
    examples = tuple(example for example in examples if files_present(example))
    if not examples:
        return
    shown = [EXAMPLE_PARAMS.index("reference_images"), EXAMPLE_PARAMS.index("prompt")]
    gr.Examples(
        examples=example_rows(examples),
        inputs=[controls.shown(name) for name in EXAMPLE_PARAMS],  # the mask: the editor on show
        label="Examples (each fills in every setting)",
        example_labels=[example.label for example in examples],
        visible_columns=shown,
        examples_per_page=len(examples),
        api_visibility="private",
        elem_id="examples",
    )
