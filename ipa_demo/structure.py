"""Structure guidance in our loop: ControlNet (per step) and T2I-Adapter (features once).

Both feed the same UNet call: ControlNet through ``down_block_additional_residuals`` and
``mid_block_additional_residual``, T2I through ``down_intrablock_additional_residuals``. No stock
SD1.5 pipeline combines them, or T2I with IP-Adapter; the UNet itself accepts all at once.
Each mirrors its diffusers pipeline (``StableDiffusionControlNetPipeline``,
``StableDiffusionAdapterPipeline``) operation for operation, so parity tests can hold them to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from diffusers import ControlNetModel, T2IAdapter
from diffusers.image_processor import VaeImageProcessor
from PIL import Image

from .conditioner import Conditioner, Step
from .settings import ControlNetSettings, T2IAdapterSettings
from .unet_call import UNetCall
from .windows import step_in_window


@dataclass(frozen=True)
class ControlNetGuidance(Conditioner):
    model: ControlNetModel
    image: torch.Tensor  # the map, batched like the UNet input (conditional half only in guess mode)
    scale: float
    start: float
    end: float
    guess_mode: bool
    guided: bool  # classifier-free guidance is on

    @classmethod
    def prepare(
        cls,
        model: ControlNetModel,
        control_map: Image.Image,
        options: ControlNetSettings,
        *,
        device: torch.device,
        num_images: int,
        guided: bool,
    ) -> ControlNetGuidance:
        processor = VaeImageProcessor(do_convert_rgb=True, do_normalize=False)
        image = processor.preprocess(control_map, height=control_map.height, width=control_map.width)
        image = image.to(torch.float32).repeat_interleave(num_images, dim=0).to(device, model.dtype)
        if guided and not options.guess_mode:
            image = torch.cat([image] * 2)
        return cls(model, image, options.scale, options.start, options.end, options.guess_mode, guided)

    def join(self, call: UNetCall, step: Step) -> UNetCall:
        # Outside its window diffusers still runs the ControlNet at scale 0, adding zeros; skipping
        # it gives the same numbers for less work.
        if not step_in_window(step.index, step.total, self.start, self.end):
            return call
        model_input, text = call.sample, call.text
        conditional_only = self.guess_mode and self.guided
        if conditional_only:  # the unconditional half gets no residuals at all
            model_input, text = model_input.chunk(2)[1], text.chunk(2)[1]
        down, mid = self.model(
            model_input,
            step.timestep,
            encoder_hidden_states=text,  # text tokens only: the ControlNet never sees image tokens
            controlnet_cond=self.image,
            conditioning_scale=self.scale,
            guess_mode=self.guess_mode,
            return_dict=False,
        )
        if conditional_only:
            down = [torch.cat([torch.zeros_like(sample), sample]) for sample in down]
            mid = torch.cat([torch.zeros_like(mid), mid])
        return call.with_residuals({"down_block_additional_residuals": down, "mid_block_additional_residual": mid})


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
        *,
        device: torch.device,
        num_images: int,
        guided: bool,
    ) -> T2IGuidance:
        if adapter.config.in_channels == 1:
            control_map = control_map.convert("L")
        pixels = np.asarray(control_map, dtype=np.float32) / 255.0
        pixels = pixels[None, ..., None] if pixels.ndim == 2 else pixels[None]
        tensor = torch.from_numpy(pixels.transpose(0, 3, 1, 2)).to(device, adapter.dtype)
        features = []
        for feature in adapter(tensor):
            feature = (feature * options.scale).repeat(num_images, 1, 1, 1)
            features.append(torch.cat([feature] * 2) if guided else feature)
        return cls(tuple(features), options.factor)

    def join(self, call: UNetCall, step: Step) -> UNetCall:
        if step.index >= int(step.total * self.factor):
            return call
        # A fresh list each step: the UNet pops from it.
        return call.with_residuals({"down_intrablock_additional_residuals": [feature.clone() for feature in self.features]})
