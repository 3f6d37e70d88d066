"""A base model's architecture from where it lies, before it loads: its folder's configs, no weights."""

from __future__ import annotations

from pathlib import Path

from . import SD15, Architecture, describe_folder, describe_unet, unet_config


def describe_path(path: Path) -> Architecture:
    """A diffusers folder's own; a single file (an SD 1.5 checkpoint: the only kind loaded from one) and a
    folder without configs are the default, SD 1.5."""
    if not (path / "unet" / "config.json").is_file():
        return SD15
    if (path / "vae" / "config.json").is_file() and (path / "model_index.json").is_file():
        return describe_folder(path)
    return describe_unet(unet_config(path))
