"""Regions: a mask per reference (white = where it acts), at the resolution of every attention layer.

With masks, each reference of a unit attends on its own and its output is multiplied by its mask,
shrunk to the layer's feature map, and by its own weight (× λ): diffusers' ``IPAdapterMaskProcessor``
semantics. The masks are prepared once per generation for each of the UNet's resolutions (each half of
the one before, rounded up, as its stride-2 convolutions make them), not once per layer call.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers.image_processor import IPAdapterMaskProcessor
from PIL import Image

from ..architecture import Architecture
from ..architecture.description import shrink


def binary_masks(images: Sequence[Image.Image], height: int, width: int) -> torch.Tensor:
    """(masks, height, width) of 0 and 1: grey, resized to the output size (lanczos), cut at half."""
    return IPAdapterMaskProcessor().preprocess(list(images), height=height, width=width)[:, 0]


def layer_sizes(height: int, width: int, architecture: Architecture) -> list[tuple[int, int]]:
    """The feature map sizes the UNet's blocks see, from the latents down (the up blocks mirror them)."""
    latent_height, latent_width = height // architecture.vae_scale_factor, width // architecture.vae_scale_factor
    levels = range(architecture.resolutions)
    return [(shrink(latent_height, 2**level), shrink(latent_width, 2**level)) for level in levels]


@dataclass(frozen=True)
class Regions:
    """Each reference's weight (× λ) and its mask at every layer size, keyed by the layer's query count."""

    weights: tuple[float, ...]
    masks: dict[int, torch.Tensor]  # queries -> (references, queries, 1)

    @classmethod
    def prepare(
        cls, masks: torch.Tensor, weights: tuple[float, ...], sizes: Sequence[tuple[int, int]], device: torch.device
    ) -> Regions:
        """``masks`` from ``binary_masks``; bicubic shrinking as diffusers' ``IPAdapterMaskProcessor.downsample``."""
        by_queries = {}
        for height, width in sizes:
            small = F.interpolate(masks[None], size=(height, width), mode="bicubic")[0]
            by_queries[height * width] = small.reshape(len(masks), height * width, 1).to(device)
        return cls(weights, by_queries)

    def mask(self, index: int, queries: int, dtype: torch.dtype) -> torch.Tensor:
        """Reference ``index``'s mask for a layer with ``queries`` positions, (queries, 1)."""
        return self.masks[queries][index].to(dtype)


def mask_text(mask: torch.Tensor) -> str:
    """A binary mask as base64 of a 1-bit PNG: how the PNG's parameters carry it (no comma, no space)."""
    image = Image.fromarray((mask.numpy() > 0.5).astype("uint8") * 255).convert("1")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
