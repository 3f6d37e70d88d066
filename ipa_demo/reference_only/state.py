"""The reference-only state of one UNet call, handed to our processors and hooks.

It travels in a context variable set around the call: nothing about a request stays in the model.
Exact mode makes two calls a step: a "write" call runs the re-noised reference and fills the banks
(self-attention inputs, AdaIN statistics), then a "read" call of the generated latents uses them.
Fast mode makes one "single" call: the reference is row 0 of the batch and every selected layer
reads row 0's values as they are computed, so there are no banks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Literal

import torch

Phase = Literal["write", "read", "single"]

_ACTIVE: ContextVar[ReferencePass | None] = ContextVar("reference_pass", default=None)


class BanksFilled(Exception):
    """Ends a write call early: nothing after the last selected layer reaches the read call."""


@dataclass
class ReferencePass:
    phase: Phase
    attention_layers: frozenset[str]  # transformer blocks whose self-attention reads the reference
    adain_points: frozenset[str]  # block outputs renormalised to the reference's statistics
    fidelity: float
    uncond_rows: torch.Tensor | None  # of the rows that read: True for the CFG unconditional half
    attention_bank: dict[str, torch.Tensor] = field(default_factory=dict)
    adain_bank: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    def reading(self) -> ReferencePass:
        return replace(self, phase="read")  # shares the filled banks

    def store_attention(self, block: str, hidden_states: torch.Tensor) -> None:
        self.attention_bank[block] = hidden_states
        self._stop_when_filled()

    def store_statistics(self, point: str, mean: torch.Tensor, var: torch.Tensor) -> None:
        self.adain_bank[point] = (mean, var)
        self._stop_when_filled()

    def _stop_when_filled(self) -> None:
        if len(self.attention_bank) == len(self.attention_layers) and len(self.adain_bank) == len(self.adain_points):
            raise BanksFilled

    def blend(self, with_reference: torch.Tensor, unconditional_plain: torch.Tensor | None) -> torch.Tensor:
        """Style fidelity: f · (uncond half without the reference) + (1 - f) · (all with it)."""
        if self.uncond_rows is None or self.fidelity == 0 or unconditional_plain is None:
            return with_reference
        conditional_only = with_reference.clone()
        conditional_only[self.uncond_rows] = unconditional_plain
        return self.fidelity * conditional_only + (1.0 - self.fidelity) * with_reference


def active_pass() -> ReferencePass | None:
    return _ACTIVE.get()


@contextmanager
def activate(reference_pass: ReferencePass | None) -> Iterator[None]:
    token = _ACTIVE.set(reference_pass)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
