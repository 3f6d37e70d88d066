"""ControlNet in our loop: run each step inside its window, its residuals added to the UNet call.

It feeds the UNet through ``down_block_additional_residuals`` and ``mid_block_additional_residual``
and mirrors diffusers' ``StableDiffusionControlNetPipeline`` operation for operation, so parity
tests can hold it to that pipeline. Several units sum their residuals (``UNetCall.add_residuals``)
in their order, as diffusers' ``MultiControlNetModel`` does. A unit's region mask multiplies its
residuals, resized to each feature map (A1111's ``effective_region_mask``): white leaves them as they
are, black removes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import ControlNetModel
from diffusers.image_processor import VaeImageProcessor
from PIL import Image

from ..conditioner import BatchLayout, Conditioner, Step
from ..settings import ControlNetSettings
from ..unet_call import UNetCall
from ..windows import step_in_window
from .control_maps import fit_to_size


def region_tensor(mask: Image.Image, width: int, height: int, device: torch.device) -> torch.Tensor:
    """A region mask at the output size as (1, 1, h, w) in [0, 1]: white acts."""
    pixels = np.asarray(fit_to_size(mask, width, height).convert("L"), dtype=np.float32) / 255.0
    return torch.from_numpy(pixels)[None, None].to(device)


def masked(residual: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    resized = F.interpolate(region, size=residual.shape[-2:], mode="bilinear", align_corners=False)
    return residual * resized.to(residual.dtype)


@dataclass(frozen=True)
class ControlNetGuidance(Conditioner):
    model: ControlNetModel
    image: torch.Tensor  # the map, batched like the UNet input (conditional half only in guess mode)
    scale: float
    start: float
    end: float
    guess_mode: bool  # one switch for the request: every unit or none
    guided: bool  # classifier-free guidance is on
    region: torch.Tensor | None = None  # (1, 1, h, w) at the output size; None: everywhere

    @classmethod
    def prepare(
        cls,
        model: ControlNetModel,
        control_map: Image.Image,
        options: ControlNetSettings,
        layout: BatchLayout,
        *,
        guess_mode: bool,
        region: Image.Image | None = None,
    ) -> ControlNetGuidance:
        processor = VaeImageProcessor(do_convert_rgb=True, do_normalize=False)
        image = processor.preprocess(control_map, height=control_map.height, width=control_map.width)
        image = image.to(torch.float32).repeat_interleave(layout.num_images, dim=0).to(layout.device, model.dtype)
        if layout.guided and not guess_mode:
            image = torch.cat([image] * 2)
        where = region_tensor(region, control_map.width, control_map.height, layout.device) if region is not None else None
        return cls(model, image, options.scale, options.start, options.end, guess_mode, layout.guided, where)

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
        if self.region is not None:
            down, mid = [masked(sample, self.region) for sample in down], masked(mid, self.region)
        if conditional_only:
            down = [torch.cat([torch.zeros_like(sample), sample]) for sample in down]
            mid = torch.cat([torch.zeros_like(mid), mid])
        return call.add_residuals({"down_block_additional_residuals": list(down), "mid_block_additional_residual": mid})
