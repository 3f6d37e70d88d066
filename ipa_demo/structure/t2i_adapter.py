"""T2I-Adapter in our loop: features computed once from the map, added to the UNet's down blocks.

They go in through ``down_intrablock_additional_residuals``, as in diffusers'
``StableDiffusionAdapterPipeline``, which has no IP-Adapter support: the UNet itself accepts
T2I features, ControlNet residuals and image tokens in one call.

Soft injection (``T2IAdapterSettings.soft``, the A1111 extension's "My prompt is more important" for a
T2I-Adapter) multiplies the features, shallowest first, by ``SOFT_FACTORS`` on both halves of CFG; an
adapter with fewer levels takes the first factors, as the extension pairs them (one with more would keep
its deeper levels whole).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from diffusers import T2IAdapter
from PIL import Image

from ..conditioner import BatchLayout, Conditioner, Step
from ..settings import T2IAdapterSettings
from ..unet_call import UNetCall

SOFT_FACTORS = (0.25, 0.62, 0.825, 1.0)  # the extension's, one per feature level


@dataclass(frozen=True)
class T2IGuidance(Conditioner):
    features: tuple[torch.Tensor, ...]  # scaled and batched once per generation
    factor: float  # the first ``factor`` of the steps get the features

    @classmethod
    @torch.no_grad()
    def prepare(
        cls,
        adapter: T2IAdapter,
        control_map: Image.Image,
        options: T2IAdapterSettings,
        layout: BatchLayout,
    ) -> T2IGuidance:
        if adapter.config.in_channels == 1:
            control_map = control_map.convert("L")
        pixels = np.asarray(control_map, dtype=np.float32) / 255.0
        pixels = pixels[None, ..., None] if pixels.ndim == 2 else pixels[None]
        tensor = torch.from_numpy(pixels.transpose(0, 3, 1, 2)).to(layout.device, adapter.dtype)
        features = []
        levels = adapter(tensor)
        factors = (*SOFT_FACTORS, *(1.0,) * len(levels))[: len(levels)] if options.soft else (1.0,) * len(levels)
        for feature, factor in zip(levels, factors, strict=True):
            feature = (feature * options.scale * factor).repeat(layout.num_images, 1, 1, 1)
            features.append(torch.cat([feature] * 2) if layout.guided else feature)
        return cls(tuple(features), options.factor)

    def join(self, call: UNetCall, step: Step) -> UNetCall:
        if step.index >= int(step.total * self.factor):
            return call
        # A fresh list each step: the UNet pops from it. Several units sum theirs, as diffusers' MultiAdapter.
        return call.add_residuals({"down_intrablock_additional_residuals": [feature.clone() for feature in self.features]})
