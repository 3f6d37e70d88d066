"""ControlNet in our loop: run each step inside its window, its residuals added to the UNet call.

It feeds the UNet through ``down_block_additional_residuals`` and ``mid_block_additional_residual``
and mirrors diffusers' ``StableDiffusionControlNetPipeline`` operation for operation, so parity
tests can hold it to that pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import ControlNetModel
from diffusers.image_processor import VaeImageProcessor
from PIL import Image

from ..conditioner import Conditioner, Step
from ..settings import ControlNetSettings
from ..unet_call import UNetCall
from ..windows import step_in_window


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
