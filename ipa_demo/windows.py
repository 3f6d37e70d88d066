"""Which denoising steps a start/end window covers; one rule for every conditioner."""

from __future__ import annotations


def step_in_window(index: int, total: int, start: float, end: float) -> bool:
    """diffusers' ControlNet rule: step i runs when [i/n, (i+1)/n] lies inside [start, end]."""
    return not (index / total < start or (index + 1) / total > end)
