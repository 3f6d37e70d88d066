"""ControlNet in our loop: run each step inside its window, its residuals added to the UNet call.

It feeds the UNet through ``down_block_additional_residuals`` and ``mid_block_additional_residual``
and mirrors diffusers' ``StableDiffusionControlNetPipeline`` operation for operation, so parity
tests can hold it to that pipeline. Several units sum their residuals (``UNetCall.add_residuals``)
in their order, as diffusers' ``MultiControlNetModel`` does. A unit's region mask multiplies its
residuals, resized to each feature map (A1111's ``effective_region_mask``): white leaves them as they
are, black removes them.

Soft injection (``ControlNetSettings.soft``, the extension's "My prompt is more important" and, with
guess mode, "ControlNet is more important") weakens the shallow blocks: residual ``i`` of the 13 (the 12
down residuals in order, then the mid block's) is multiplied by ``SOFT_BASE ** (12 - i)``, so the mid
block keeps its full weight and the first down block gets about a tenth, on both halves of CFG. Under
guess mode the extension applies these factors in place of diffusers' own guess-mode factors
(``logspace(-1, 0, 13)``, within 0.6 % of them): a soft unit calls the ControlNet without diffusers'
``guess_mode`` and scales its residuals itself. A model with fewer residuals (SDXL: 10) takes the first
factors, as the extension pairs its 13 factors with the residuals it has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import ControlNetModel
from diffusers.image_processor import VaeImageProcessor
from PIL import Image

from ..conditioner import BatchLayout, Conditioner, Step
from ..settings import ControlNetSettings
from ..unet_call import Residuals, UNetCall
from ..windows import step_in_window
from .control_maps import fit_to_size


def region_tensor(mask: Image.Image, width: int, height: int, device: torch.device) -> torch.Tensor:
    """A region mask at the output size as (1, 1, h, w) in [0, 1]: white acts."""
    pixels = np.asarray(fit_to_size(mask, width, height).convert("L"), dtype=np.float32) / 255.0
    return torch.from_numpy(pixels)[None, None].to(device)


def masked(residual: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    resized = F.interpolate(region, size=residual.shape[-2:], mode="bilinear", align_corners=False)
    return residual * resized.to(residual.dtype)


SOFT_BASE = 0.825  # the ControlNet authors' factor, which the A1111 extension uses
SOFT_DEPTH = 12  # residual i is scaled by SOFT_BASE ** (SOFT_DEPTH - i)


def soft_factors(count: int) -> tuple[float, ...]:
    """The soft-injection factor of each of ``count`` residuals (the down ones in order, the mid one last)."""
    return tuple(SOFT_BASE ** float(SOFT_DEPTH - index) for index in range(count))


def softened(down: list[torch.Tensor], mid: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
    factors = soft_factors(len(down) + 1)
    return [residual * factor for residual, factor in zip(down, factors, strict=False)], mid * factors[len(down)]


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
    soft: bool = False  # soft injection: the extension's per-block factors (``soft_factors``)

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
        return cls(model, image, options.scale, options.start, options.end, guess_mode, layout.guided, where,
                   options.soft)  # fmt: skip

    def join(self, call: UNetCall, step: Step) -> UNetCall:
        # Outside its window diffusers still runs the ControlNet at scale 0, adding zeros; skipping
        # it gives the same numbers for less work.
        if not step_in_window(step.index, step.total, self.start, self.end):
            return call
        residuals = controlnet_residuals(self, call.sample, step.timestep, call.text, call.added_cond_kwargs)
        if self.region is not None:  # the guess-mode zeros stay zeros
            residuals = {name: [masked(item, self.region) for item in value] if isinstance(value, list)
                         else masked(value, self.region) for name, value in residuals.items()}  # fmt: skip
        return call.add_residuals(residuals)


def controlnet_residuals(
    guidance: ControlNetGuidance,
    sample: torch.Tensor,
    timestep: torch.Tensor,
    text: torch.Tensor,
    added: Mapping[str, torch.Tensor] | None,
) -> Residuals:
    """One step's ControlNet residuals. ``added``: the UNet's added conditioning on SDXL, whose ControlNet
    (a copy of the UNet's encoder) reads it as the UNet does; None on SD 1.5. Under guess mode the
    ControlNet sees the conditional half only, of the added conditioning too, as diffusers does."""
    conditional_only = guidance.guess_mode and guidance.guided
    if conditional_only:  # the unconditional half gets no residuals at all
        sample, text = sample.chunk(2)[1], text.chunk(2)[1]
        added = None if added is None else {name: value.chunk(2)[1] for name, value in added.items()}
    down, mid = guidance.model(
        sample,
        timestep,
        encoder_hidden_states=text,  # text tokens only: the ControlNet never sees image tokens
        controlnet_cond=guidance.image,
        conditioning_scale=guidance.scale,
        guess_mode=guidance.guess_mode and not guidance.soft,  # soft: our factors, not diffusers'
        added_cond_kwargs=None if added is None else dict(added),
        return_dict=False,
    )
    if guidance.soft:
        down, mid = softened(list(down), mid)
    if conditional_only:
        down = [torch.cat([torch.zeros_like(residual), residual]) for residual in down]
        mid = torch.cat([torch.zeros_like(mid), mid])
    return {"down_block_additional_residuals": list(down), "mid_block_additional_residual": mid}
