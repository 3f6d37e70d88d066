"""Every component the app can load, of both families: what ``download`` fetches without ``--only`` and the
Space preloads (README front matter), by key."""

from __future__ import annotations

from .catalog import SD15_SPECS, ModelSpec
from .catalog_sdxl import SDXL_SPECS

ALL_SPECS: tuple[ModelSpec, ...] = (*SD15_SPECS, *SDXL_SPECS)
SPECS_BY_KEY: dict[str, ModelSpec] = {spec.key: spec for spec in ALL_SPECS}
