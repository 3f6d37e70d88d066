"""One UNet evaluation's inputs, which each conditioner adds its part to."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field, replace

import torch
from diffusers import UNet2DConditionModel

from .ip_adapter.attention import IPAttention

Residuals = dict[str, torch.Tensor | list[torch.Tensor]]


def _zero_row_in_front(residual: torch.Tensor) -> torch.Tensor:
    return torch.cat([torch.zeros_like(residual[:1]), residual])


@dataclass(frozen=True)
class UNetCall:
    """Latents, text and image tokens, structure residuals; ``hidden_rows`` in front are not returned.

    ``during`` are contexts entered around the call (reference-only's pass, which our processors
    and hooks read while the UNet runs).
    """

    sample: torch.Tensor
    text: torch.Tensor
    ip: tuple[IPAttention, ...] = ()  # one per IP-Adapter unit acting at this step
    residuals: Residuals = field(default_factory=dict)  # ControlNet, T2I
    hidden_rows: int = 0
    during: tuple[Callable[[], AbstractContextManager[object]], ...] = ()

    def run(self, unet: UNet2DConditionModel, timestep: torch.Tensor) -> torch.Tensor:
        with ExitStack() as stack:
            for context in self.during:
                stack.enter_context(context())
            output = unet(
                self.sample,
                timestep,
                encoder_hidden_states=self.text,
                cross_attention_kwargs={"ip": self.ip},
                return_dict=False,
                **self.residuals,
            )[0]
        return output[self.hidden_rows :]

    def with_residuals(self, residuals: Residuals) -> UNetCall:
        return replace(self, residuals={**self.residuals, **residuals})

    def with_row_in_front(self, sample: torch.Tensor, copy_conditioning_of: int) -> UNetCall:
        """Another latent as row 0, with the text and image tokens of row ``copy_conditioning_of``.

        It gets no structure residuals (zeros, which the UNet adds as an exact no-op).
        """
        row = slice(copy_conditioning_of, copy_conditioning_of + 1)
        residuals = {
            name: [_zero_row_in_front(item) for item in value] if isinstance(value, list) else _zero_row_in_front(value)
            for name, value in self.residuals.items()
        }
        return replace(
            self,
            sample=torch.cat([sample, self.sample]),
            text=torch.cat([self.text[row], self.text]),
            ip=tuple(unit.with_rows_in_front(row) for unit in self.ip),
            residuals=residuals,
            hidden_rows=self.hidden_rows + 1,
        )
