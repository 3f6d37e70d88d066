"""T2I-Adapter in our loop: features computed once from the map, added to the UNet's down blocks.

They go in through ``down_intrablock_additional_residuals``, as in diffusers'
``StableDiffusionAdapterPipeline``, which has no IP-Adapter support: the UNet itself accepts
T2I features, ControlNet residuals and image tokens in one call.
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
        for feature in adapter(tensor):
            feature = (feature * options.scale).repeat(layout.num_images, 1, 1, 1)
            features.append(torch.cat([feature] * 2) if layout.guided else feature)
        return cls(tuple(features), options.factor)

    def join(self, call: UNetCall, step: Step) -> UNetCall:
        if step.index >= int(step.total * self.factor):
            return call
        # A fresh list each step: the UNet pops from it. Several units sum theirs, as diffusers' MultiAdapter.
        return call.add_residuals({"down_intrablock_additional_residuals": [feature.clone() for feature in self.features]})
