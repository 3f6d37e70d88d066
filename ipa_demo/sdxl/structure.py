"""ControlNet and T2I-Adapter residuals on SDXL: what ``structure/``'s conditioners do for SD 1.5, plus
SDXL's added conditioning, which the ControlNet (a copy of the UNet's encoder) reads as the UNet does.

Under guess mode the ControlNet sees the conditional half only, of the pooled text and time ids too,
as diffusers' ``StableDiffusionXLControlNetPipeline`` does. T2I-Adapter features need nothing new:
``full_adapter_xl`` returns one per down block with attention and one for the mid block.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ..structure.controlnet import ControlNetGuidance
from ..unet_call import Residuals

Added = dict[str, torch.Tensor]
# (scaled model input, timestep, text tokens, added conditioning) -> the UNet's residual keywords
StructureStep = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, Added], Residuals]


def controlnet_residuals(
    guidance: ControlNetGuidance,
    sample: torch.Tensor,
    timestep: torch.Tensor,
    text: torch.Tensor,
    added: Added | None,
) -> Residuals:
    """One step's ControlNet residuals: ``ControlNetGuidance.join`` with ``added_cond_kwargs`` (None on
    SD 1.5, whose ControlNets take none, so one function serves both)."""
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
        guess_mode=guidance.guess_mode,
        added_cond_kwargs=added,
        return_dict=False,
    )
    if conditional_only:
        down = [torch.cat([torch.zeros_like(residual), residual]) for residual in down]
        mid = torch.cat([torch.zeros_like(mid), mid])
    return {"down_block_additional_residuals": list(down), "mid_block_additional_residual": mid}


def controlnet_step(guidance: ControlNetGuidance) -> StructureStep:
    return lambda sample, timestep, text, added: controlnet_residuals(guidance, sample, timestep, text, added)


def t2i_step(features: Sequence[torch.Tensor]) -> StructureStep:
    """T2I features (scaled and batched once) for every step; a fresh list each time, the UNet pops from it."""
    return lambda *_: {"down_intrablock_additional_residuals": [feature.clone() for feature in features]}
