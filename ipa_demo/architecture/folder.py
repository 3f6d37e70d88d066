"""An ``Architecture`` from a diffusers model folder's config files (no weights are read)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .description import Architecture
from .unet_config import describe

TEXT_ENCODER_PREFIX = "text_encoder"


def read_config(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def text_encoders(model_index: dict[str, Any]) -> tuple[str, ...]:
    """The folder's text encoders, as model_index.json names them ("text_encoder", "text_encoder_2")."""
    return tuple(sorted(name for name, value in model_index.items() if name.startswith(TEXT_ENCODER_PREFIX) and value))


def unet_config(folder: Path) -> dict[str, Any]:
    return read_config(folder / "unet" / "config.json")


def describe_folder(folder: Path) -> Architecture:
    vae = read_config(folder / "vae" / "config.json")
    return describe(
        unet_config(folder),
        vae_scale_factor=2 ** (len(vae["block_out_channels"]) - 1),
        text_encoders=text_encoders(read_config(folder / "model_index.json")),
    )

