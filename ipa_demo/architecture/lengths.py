"""How long a layer mask and per-layer weights are on each architecture, and how an error says it.

A mask has one bit per attention module (16 on SD 1.5, 11 on SDXL). Per-layer weights have one
number per attention module, or, for experts, one per transformer block (SDXL's 70; on SD 1.5 each
module holds one block, so the two are the same 16). The lengths of the known architectures never
collide, so a mask or a list of weights says by its length which model and which form it is for:
settings accept any known length before a model is loaded, and the running model holds the unit to
its own (``ip_adapter.model_layers``).
"""

from __future__ import annotations

from . import KNOWN, Architecture


def weight_counts(architecture: Architecture) -> tuple[int, ...]:
    """One number per attention module, or one per transformer block (the same on SD 1.5)."""
    return tuple(dict.fromkeys((len(architecture.modules), len(architecture.blocks))))


MASK_LENGTHS: tuple[int, ...] = tuple(dict.fromkeys(len(architecture.modules) for architecture in KNOWN))
WEIGHT_COUNTS: tuple[int, ...] = tuple(dict.fromkeys(count for known in KNOWN for count in weight_counts(known)))


def _or(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def mask_expectation(architecture: Architecture) -> str:
    """``SDXL takes 11 bits (one per attention module)``."""
    return f"{architecture.title} takes {len(architecture.modules)} bits (one per attention module)"


def weights_expectation(architecture: Architecture) -> str:
    """``SDXL takes 11 numbers (one per attention module) or 70 (one per transformer block)``."""
    modules, *blocks = weight_counts(architecture)
    per_block = [f"{count} (one per transformer block)" for count in blocks]
    return f"{architecture.title} takes " + _or([f"{modules} numbers (one per attention module)", *per_block])


def known_mask_lengths() -> str:
    """``16 on SD 1.5, 11 on SDXL``: what a mask may be before the model is known."""
    return ", ".join(f"{len(known.modules)} on {known.title}" for known in KNOWN)


def known_weight_counts(noun: str = "") -> str:
    """``16 on SD 1.5, 11 or 70 on SDXL``; with a noun after the first count: ``16 numbers on SD 1.5, ...``."""
    parts = [f"{_or([str(count) for count in weight_counts(known)])} on {known.title}" for known in KNOWN]
    return ", ".join([parts[0].replace(" on ", f" {noun} on ", 1) if noun else parts[0], *parts[1:]])


def block_scales(architecture: Architecture, module_scales: tuple[float, ...]) -> tuple[float, ...]:
    """Per-module values spread over each module's transformer blocks, in block order."""
    return tuple(module_scales[block.module] for block in architecture.blocks)
