"""The catalog's control models under the names the A1111 ControlNet extension gives them: ``stem [8 hex]``.

Clients search the extension's model list by substring (``"sd15_canny"``, ``"ip-adapter_sd15"``) and its
infotext writes ``Model: control_v11p_sd15_canny [hash]``, so every model is named by its Hub file stem.
The bracketed tag is a stable digest of where the model comes from, not of its weights (reading a 700 MB
file to name it would be slow, and it may not be downloaded yet): a name is accepted with any tag or none.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from .catalog import CONTROLNETS, IP_ADAPTERS, T2I_ADAPTERS, ModelSpec
from .catalog_sdxl import SDXL_CONTROLNETS, SDXL_IP_ADAPTERS, SDXL_T2I_ADAPTERS


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


# SD 1.5's first, then SDXL's: a kind both families have is named by SD 1.5's file (``control_model``),
# and a kind only SDXL has (the ``vit-h`` adapter) by SDXL's.
CONTROL_MODELS: tuple[ControlModel, ...] = tuple(
    ControlModel(_stem(spec, role), role, kind)
    for role, table in (
        ("ip", IP_ADAPTERS), ("controlnet", CONTROLNETS), ("t2i", T2I_ADAPTERS),
        ("ip", SDXL_IP_ADAPTERS), ("controlnet", SDXL_CONTROLNETS), ("t2i", SDXL_T2I_ADAPTERS),
    )
    for kind, spec in table.items()
)  # fmt: skip


def control_model(role: str, kind: str) -> ControlModel:
    """The model of a unit of ``role`` ("ip", "controlnet", "t2i") and ``kind`` (its variant or map kind)."""
    return next(model for model in CONTROL_MODELS if model.role == role and model.kind == kind)


def model_by_title(title: str) -> ControlModel | None:
    """The model a name stands for, with or without its ``[tag]`` (read without a regular expression)."""
    stem = title.rpartition(" [")[0] if title.endswith("]") else title
    return next((model for model in CONTROL_MODELS if model.name.lower() == stem.strip().lower()), None)
