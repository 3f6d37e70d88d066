"""One description of the base model's UNet that the layer grid, masks, weights, stages, injection
maps, regions, sweeps, the trainer and the PNG keys all read (``description.py``).

``SD15`` is the default, derived from the SD 1.5 config files shipped in ``sd15/`` (the real model's;
the tiny test set shares its topology): settings, the CLI and the UI use it before any model loads.
"""

from __future__ import annotations

from pathlib import Path

from .description import Architecture, AttentionModule, Stage, TransformerBlock
from .folder import describe_folder
from .unet_config import ArchitectureError, describe, describe_unet

SD15: Architecture = describe_folder(Path(__file__).with_name("sd15"))

__all__ = [
    "SD15",
    "Architecture",
    "ArchitectureError",
    "AttentionModule",
    "Stage",
    "TransformerBlock",
    "describe",
    "describe_folder",
    "describe_unet",
]
