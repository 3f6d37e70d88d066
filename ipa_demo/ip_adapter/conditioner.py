"""IP-Adapter as a conditioner: image tokens projected once per generation, λ per layer, a step window."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..conditioner import Conditioner, Step
from ..settings import IPAdapterSettings
from ..unet_call import UNetCall
from ..windows import step_in_window
from .attention import IPAttention
from .injection import InjectionRecorder
from .weights import IPAdapterWeights


@dataclass(frozen=True)
class ImagePrompt(Conditioner):
    """IP-Adapter inputs for one generation, batch already laid out like the latents."""

    weights: IPAdapterWeights
    tokens: torch.Tensor
    layer_scales: tuple[float, ...]
    start: float
    end: float
    recorder: InjectionRecorder | None = None  # set when injection maps are asked for

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
        recorder: InjectionRecorder | None = None,
    ) -> ImagePrompt:
        """Project the reference encodings to image tokens once per generation, not once per step."""
        encodings = [positive.repeat_interleave(num_images, dim=0)]
        if guided:
            encodings.insert(0, negative.repeat_interleave(num_images, dim=0))
        tokens = weights.image_tokens(torch.cat(encodings).to(weights.dtype))
        return cls(weights, tokens, settings.layer_scales, settings.start, settings.end, recorder)

    def join(self, call: UNetCall, step: Step) -> UNetCall:
        if not step_in_window(step.index, step.total, self.start, self.end):
            return call
        return replace(call, ip=IPAttention(self.weights, self.tokens, self.layer_scales, self.recorder))
