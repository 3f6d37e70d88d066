"""A base model's architecture from where it lies, before it loads: its folder's configs or a single file's
header, no weights."""

from __future__ import annotations

from pathlib import Path

from . import SD15, SDXL, Architecture, describe_folder, describe_unet, unet_config
from .checkpoint_keys import file_family


def describe_path(path: Path) -> Architecture:
    """A diffusers folder's own; a single file's family (told by its tensor names, as the loader tells it) as
    that family's architecture; a folder without configs, or a file of no known family, the default, SD 1.5."""
    if path.is_file():
        return SDXL if file_family(path) == "sdxl" else SD15
    if not (path / "unet" / "config.json").is_file():
        return SD15
    if (path / "vae" / "config.json").is_file() and (path / "model_index.json").is_file():
        return describe_folder(path)
    return describe_unet(unet_config(path))
