"""How each surface names a further unit: its API parameter, its label on the page (no other imports, so that
the declarations can use it)."""

from __future__ import annotations

import re
from typing import NamedTuple

UNIT_PARAMS = {"ip": "ip_units", "controlnet": "controlnet_units", "t2i": "t2i_units"}  # one API parameter per kind
UNIT_WORDS = {"ip": "IP-Adapter", "controlnet": "ControlNet", "t2i": "T2I-Adapter"}
UNIT_PARAM_LABELS = {param: f"More {UNIT_WORDS[kind]} units" for kind, param in UNIT_PARAMS.items()}
_FIELD = re.compile(r"(ip|controlnet|t2i)_unit_([0-9]{1,6})(?:\.(\w{1,40}))?")  # one pass, no nesting: linear
_PARTS = {"references": "reference", "masks": "mask"}  # ``units.check_unit_images``'s parts -> the unit keys


class UnitName(NamedTuple):
    kind: str
    number: int
    key: str  # the unit key an error is about ("" for the unit as a whole)


def parse_unit_field(field: str) -> UnitName | None:
    """``controlnet_unit_2`` / ``ip_unit_3.references`` -> its kind, number and key; None for other fields."""
    matched = _FIELD.fullmatch(field)
    if matched is None:
        return None
    part = matched.group(3) or ""
    return UnitName(matched.group(1), int(matched.group(2)), _PARTS.get(part, part))


def unit_param(field: str) -> str | None:
    """The API parameter holding the unit a field names (``controlnet_unit_2`` -> ``controlnet_units``)."""
    name = parse_unit_field(field)
    return UNIT_PARAMS[name.kind] if name else None


def unit_label(field: str) -> str | None:
    """How the page names a unit's field: ``ControlNet unit 2``, ``IP-Adapter unit 3 reference``."""
    if field in UNIT_PARAM_LABELS:
        return UNIT_PARAM_LABELS[field]
    name = parse_unit_field(field)
    if name is None:
        return None
    return f"{UNIT_WORDS[name.kind]} unit {name.number}" + (f" {name.key}" if name.key else "")
