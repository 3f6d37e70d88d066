"""Sampler names as A1111 users know them, mapped to diffusers schedulers.

Each generation builds a fresh scheduler from the base model's config: schedulers keep state
between steps, so sharing one between requests would mix them up. diffusers is imported only
when a scheduler is made, so that settings (and the command line) load fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from diffusers.schedulers.scheduling_utils import SchedulerMixin

DEFAULT_SCHEDULER = "DPM++ 2M Karras"

# name -> (diffusers class name, overrides of the model's scheduler config)
_SCHEDULERS: Mapping[str, tuple[str, Mapping[str, Any]]] = MappingProxyType(
    {
        "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
        "DPM++ 2M": ("DPMSolverMultistepScheduler", {}),
        "Euler a": ("EulerAncestralDiscreteScheduler", {}),
        "Euler": ("EulerDiscreteScheduler", {}),
        "DDIM": ("DDIMScheduler", {}),
        "UniPC": ("UniPCMultistepScheduler", {}),
        "PNDM": ("PNDMScheduler", {}),
    }
)
SCHEDULER_NAMES: tuple[str, ...] = tuple(_SCHEDULERS)


def make_scheduler(name: str, base_config: Mapping[str, Any]) -> SchedulerMixin:
    """A new scheduler of the named kind, configured like the base model's own."""
    import diffusers

    try:
        class_name, overrides = _SCHEDULERS[name]
    except KeyError:
        raise ValueError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULER_NAMES)}") from None
    return getattr(diffusers, class_name).from_config(base_config, **overrides)
