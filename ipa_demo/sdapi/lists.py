"""What the API lists: models as the extension names them, its modules, samplers and schedulers.

The extension lists each model as ``file stem [8 hex]`` (``models.control_names``); clients search
that list by substring, and a name is accepted with any tag or none.
"""

from __future__ import annotations

import re

from ..models.control_names import CONTROL_MODELS, ControlModel
from ..schedulers import SCHEDULER_NAMES
from .errors import bad_field

_TAG = re.compile(r"\s*\[[0-9A-Fa-f]{0,64}\]\s*$")


def find_model(name: object, field: str) -> ControlModel:
    """The model a unit names: its stem, with any ``[hash]`` or none, with or without a file suffix."""
    if not isinstance(name, str):
        raise bad_field(field, "must be a model name from GET /controlnet/model_list")
    stem = _TAG.sub("", name).strip()
    stem = re.sub(r"\.(safetensors|pth|bin|ckpt)$", "", stem, flags=re.IGNORECASE)
    for model in CONTROL_MODELS:
        if model.name.lower() == stem.lower():
            return model
    shown = name if len(name) <= 80 else f"{name[:80]}…"
    raise bad_field(field, f"{shown!r} is not a model this server has; see GET /controlnet/model_list")


def samplers() -> list[dict[str, object]]:
    """A1111's sampler list; "DPM++ 2M Karras" also answers to "DPM++ 2M" with scheduler "Karras"."""
    return [{"name": name, "aliases": [], "options": {}} for name in SCHEDULER_NAMES]


SCHEDULERS = {"automatic": "Automatic", "karras": "Karras"}


def schedulers() -> list[dict[str, object]]:
    return [{"name": name, "label": label, "aliases": None, "default_rho": None, "need_inner_model": None}
            for name, label in SCHEDULERS.items()]  # fmt: skip


def sampler_of(sampler: object, scheduler: object, fields: tuple[str, str]) -> str:
    """Our sampler for A1111's pair: "DPM++ 2M Karras" alone, or "DPM++ 2M" with scheduler "Karras";
    scheduler "automatic" (or none) is the sampler's own schedule."""
    sampler_field, scheduler_field = fields
    if not isinstance(sampler, str) or sampler not in SCHEDULER_NAMES:
        raise bad_field(sampler_field, f"must be one of {', '.join(SCHEDULER_NAMES)}, got {sampler!r}"[:300])
    if scheduler in (None, "", "automatic", "Automatic"):
        return sampler
    if isinstance(scheduler, str) and scheduler.lower() == "karras":
        name = sampler if sampler.endswith(" Karras") else f"{sampler} Karras"
        if name in SCHEDULER_NAMES:
            return name
        raise bad_field(scheduler_field, f"Karras is offered with DPM++ 2M only here, not with {sampler}")
    raise bad_field(scheduler_field, f"must be automatic or karras, got {scheduler!r}"[:200])
