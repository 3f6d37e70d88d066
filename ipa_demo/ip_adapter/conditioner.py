"""IP-Adapter as a conditioner: image tokens projected once per generation, λ per layer, a step window.

Each adapter unit of a request is one ``ImagePrompt``; the loop joins them in order, so that at a
step inside both windows the UNet call carries both units, as diffusers runs a list of adapters.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..conditioner import Conditioner, Step
from ..settings import IPAdapterSettings
from ..unet_call import UNetCall
from ..windows import step_in_window
from .attention import KEY, IPAttention
from .injection import InjectionRecorder
from .regions import Regions
from .weights import IPAdapterWeights


@dataclass(frozen=True)
class ImagePrompt(Conditioner):
    """One unit's IP-Adapter inputs for one generation, batch already laid out like the latents."""

    attention: IPAttention
    start: float
    end: float

    @classmethod
    @torch.no_grad()
    def prepare(
        cls,
        weights: IPAdapterWeights,
        positive: torch.Tensor,
        negative: torch.Tensor,
        settings: IPAdapterSettings,
        *,
        num_images: int,
        guided: bool,
        slot_weights: tuple[float, ...] | None = None,
        regions: Regions | None = None,
        recorder: InjectionRecorder | None = None,
        layer_scales: tuple[float, ...] | None = None,  # λ per module of the running model; None: the settings'
        block_scales: tuple[float, ...] | None = None,  # λ per transformer block, when given per block
    ) -> ImagePrompt:
        """Project the encodings to image tokens once per generation, not once per step.

        ``positive`` holds one encoding per slot (one slot: a single or averaged reference; several:
        references side by side); ``negative`` (one encoding) stands on the unconditional side of each.
        ``slot_weights`` weigh the slots in the shared softmax: a slot of weight w counts as w copies.
        With ``regions`` the slots do not share a softmax: each attends on its own, masked.
        """
        scales = settings.layer_scales if layer_scales is None else layer_scales
        slots = positive.shape[0]
        rows = [positive.repeat(num_images, *(1,) * (positive.ndim - 1))]
        if guided:
            rows.insert(0, negative.expand_as(positive).repeat(num_images, *(1,) * (positive.ndim - 1)))
        tokens = weights.image_tokens(torch.cat(rows).to(weights.dtype))  # (rows × slots, tokens, dim)
        per_slot = tokens.shape[1]
        if regions is not None:
            tokens = tokens.reshape(tokens.shape[0] // slots, slots, per_slot, tokens.shape[2])
            return cls(
                IPAttention(weights, tokens, scales, regions=regions, recorder=recorder, block_scales=block_scales),
                settings.start,
                settings.end,
            )
        tokens = tokens.reshape(tokens.shape[0] // slots, slots * per_slot, tokens.shape[2])
        bias = None
        if slot_weights is not None and len(set(slot_weights)) > 1:  # equal weights: no bias, as diffusers
            bias = torch.tensor(slot_weights, device=tokens.device).log().repeat_interleave(per_slot).view(1, 1, 1, -1)
        attention = IPAttention(weights, tokens, scales, token_bias=bias, recorder=recorder, block_scales=block_scales)
        return cls(attention, settings.start, settings.end)

    def for_rows(self, rows: torch.Tensor) -> ImagePrompt:
        """This prompt acting on some rows of a larger batch only (its own rows, in order, become those)."""
        return replace(self, attention=replace(self.attention, rows=rows))

    def join(self, call: UNetCall, step: Step) -> UNetCall:
        if not step_in_window(step.index, step.total, self.start, self.end):
            return call
        return call.with_attention(KEY, self.attention)
