"""One UNet evaluation's inputs, which each conditioner adds its part to.

The call knows no feature: conditioners put what the attention processors read under a key of
``attention`` (one item per unit acting at this step, passed as ``cross_attention_kwargs``) and what
the UNet adds to its blocks in ``residuals`` (summed over units, as diffusers' ``MultiControlNetModel``
and ``MultiAdapter`` sum theirs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field, replace
from typing import Protocol

import torch
from diffusers import UNet2DConditionModel

Residuals = dict[str, torch.Tensor | list[torch.Tensor]]


class RowAware(Protocol):
    """What a conditioner puts in ``attention``: it follows rows copied in front of the batch."""

    def with_rows_in_front(self, selection: slice) -> RowAware: ...


def _zero_row_in_front(residual: torch.Tensor) -> torch.Tensor:
    return torch.cat([torch.zeros_like(residual[:1]), residual])


def _sum(first: torch.Tensor | list[torch.Tensor], second: torch.Tensor | list[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
    if isinstance(first, list) and isinstance(second, list):
        return [earlier + later for earlier, later in zip(first, second, strict=True)]
    assert isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor)
    return first + second


@dataclass(frozen=True)
class UNetCall:
    """Latents, text, what the attention processors read, block residuals, the UNet's added conditioning;
    ``hidden_rows`` in front are not returned.

    ``during`` are contexts entered around the call (reference-only's pass, which our processors
    and hooks read while the UNet runs).
    """

    sample: torch.Tensor
    text: torch.Tensor
    attention: Mapping[str, tuple[RowAware, ...]] = field(default_factory=dict)  # per key, one item per unit
    residuals: Residuals = field(default_factory=dict)  # ControlNet, T2I: added to the UNet's blocks
    added_cond_kwargs: Mapping[str, torch.Tensor] | None = None  # what the UNet adds to its time embedding (SDXL)
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
                cross_attention_kwargs=dict(self.attention),
                added_cond_kwargs=None if self.added_cond_kwargs is None else dict(self.added_cond_kwargs),
                return_dict=False,
                **self.residuals,
            )[0]
        return output[self.hidden_rows :]

    def with_attention(self, key: str, item: RowAware) -> UNetCall:
        """Another unit's part for the attention processors that read ``key``, after the units before it."""
        return replace(self, attention={**self.attention, key: (*self.attention.get(key, ()), item)})

    def add_residuals(self, residuals: Residuals) -> UNetCall:
        """These residuals added to those of the units before (a fresh list: the UNet empties what it gets)."""
        merged = dict(self.residuals)
        for name, value in residuals.items():
            merged[name] = _sum(merged[name], value) if name in merged else value
        return replace(self, residuals=merged)

    def with_row_in_front(self, sample: torch.Tensor, copy_conditioning_of: int) -> UNetCall:
        """Another latent as row 0, with the text, added conditioning and attention items of row ``copy_conditioning_of``.

        It gets no structure residuals (zeros, which the UNet adds as an exact no-op).
        """
        row = slice(copy_conditioning_of, copy_conditioning_of + 1)
        residuals = {
            name: [_zero_row_in_front(item) for item in value] if isinstance(value, list) else _zero_row_in_front(value)
            for name, value in self.residuals.items()
        }
        attention = {key: tuple(item.with_rows_in_front(row) for item in items) for key, items in self.attention.items()}
        added = None if self.added_cond_kwargs is None else {
            name: torch.cat([value[row], value]) for name, value in self.added_cond_kwargs.items()
        }  # fmt: skip
        return replace(
            self,
            sample=torch.cat([sample, self.sample]),
            text=torch.cat([self.text[row], self.text]),
            attention=attention,
            added_cond_kwargs=added,
            residuals=residuals,
            hidden_rows=self.hidden_rows + 1,
        )
