"""One description of the base model's UNet that the layer grid, masks, weights, stages, injection
maps, regions, sweeps, the trainer and the PNG keys all read (``description.py``).

``SD15`` is the default, derived from the SD 1.5 config files shipped in ``sd15/`` (the real model's;
the tiny test set's UNet is built from them): settings, the CLI and the UI use it before any model
loads. ``sdxl/`` holds stabilityai/stable-diffusion-xl-base-1.0's, which its tiny twin is built from.
"""

from __future__ import annotations

from pathlib import Path

from .description import Architecture, AttentionModule, Stage, TransformerBlock
from .folder import describe_folder, read_config, unet_config
from .unet_config import ArchitectureError, describe, describe_unet

SD15_CONFIG = Path(__file__).with_name("sd15")
SDXL_CONFIG = Path(__file__).with_name("sdxl")
SD15: Architecture = describe_folder(SD15_CONFIG)
SDXL: Architecture = describe_folder(SDXL_CONFIG)
KNOWN: tuple[Architecture, ...] = (SD15, SDXL)  # what settings accept before a model is loaded

__all__ = [
    "KNOWN",
    "SD15",
    "SD15_CONFIG",
    "SDXL",
    "SDXL_CONFIG",
    "Architecture",
    "ArchitectureError",
    "AttentionModule",
    "Stage",
    "TransformerBlock",
    "describe",
    "describe_folder",
    "describe_unet",
    "read_config",
    "unet_config",
]
