"""What the API lists: models as the extension names them, its modules, samplers and schedulers.

The extension lists each model as ``file stem [8 hex]``; clients search that list by substring
(``"sd15_canny"``, ``"ip-adapter_sd15"``), so every model is listed under its Hub file stem. The
bracketed tag is a stable digest of where the model comes from, not of its weights (reading a
700 MB file to list it would be slow, and it may not be downloaded yet): a name is accepted with
any tag or none.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..models.catalog import CONTROLNETS, IP_ADAPTERS, T2I_ADAPTERS, ModelSpec
from ..schedulers import SCHEDULER_NAMES
from .errors import bad_field

_TAG = re.compile(r"\s*\[[0-9A-Fa-f]{0,64}\]\s*$")


@dataclass(frozen=True)
class ControlModel:
    name: str  # the Hub file stem
    role: str  # "ip", "controlnet", "t2i"
    kind: str  # the IP variant or the map kind

    @property
    def tag(self) -> str:
        return hashlib.sha256(f"{self.role}/{self.name}".encode()).hexdigest()[:8]

    @property
    def title(self) -> str:
        return f"{self.name} [{self.tag}]"


def _stem(spec: ModelSpec, role: str) -> str:
    return PurePosixPath(spec.path_in_repo).stem if role == "ip" else spec.repo_name


CONTROL_MODELS: tuple[ControlModel, ...] = tuple(
    ControlModel(_stem(spec, role), role, kind)
    for role, table in (("ip", IP_ADAPTERS), ("controlnet", CONTROLNETS), ("t2i", T2I_ADAPTERS))
    for kind, spec in table.items()
)


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
