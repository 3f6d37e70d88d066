"""Sweep axes over a further unit's setting: ``controlnet-unit-2-scale=0.3,0.6``, ``ip-unit-3-variant=plus,base``.

The unit is named by its number over all units of its kind (``settings.units``: the first ControlNet unit is
1, so ``controlnet-unit-2`` is the first of ``controlnet_units``; ``ip-unit-3`` the first of ``ip_units``),
the setting by its unit key (``settings.unit_keys``); values are parsed as the key's setting is. A cell's
change is keyed ``controlnet_unit_2.scale`` and written into that unit of the request's values.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..settings import SettingsError
from ..settings.unit_keys import SHORTHAND_KEYS, UNIT_KEYS
from ..settings.unit_names import UNIT_PARAMS, UNIT_WORDS, parse_unit_field
from ..settings.units import FIRST_MORE, UnitKind

PREFIXES = {f"{kind.replace('_', '-')}-unit-": kind for kind in UNIT_PARAMS}


def unit_axis_key(name: str) -> tuple[UnitKind, int, str] | None:
    """``controlnet-unit-2-scale`` -> ("controlnet", 2, "scale"); None for a name of no unit."""
    for prefix, kind in PREFIXES.items():
        if name.startswith(prefix):
            number, _, key = name.removeprefix(prefix).partition("-")
            if number.isdigit() and len(number) <= 3 and key:
                return kind, int(number), key  # type: ignore[return-value]
    return None


def unit_axis_values(name: str, texts: list[str], where: str) -> list[tuple[str, dict[str, Any]]] | None:
    """(label, changes) per value of a unit axis, or None when ``name`` is no unit's."""
    found = unit_axis_key(name)
    if found is None:
        return None
    kind, number, key = found
    if number < FIRST_MORE[kind]:
        first = {"ip": "ip-scale or ip2-scale", "controlnet": "controlnet-scale", "t2i": "t2i-scale"}[kind]
        raise SettingsError(where, f"{UNIT_WORDS[kind]} unit {number} has its own axes (e.g. {first}); "
                            f"unit axes start at {kind}-unit-{FIRST_MORE[kind]}")  # fmt: skip
    known = (*UNIT_KEYS[kind], *(SHORTHAND_KEYS if kind == "ip" else ()))
    if key not in known:
        raise SettingsError(where, f"{key!r} is not a setting of a {kind} unit; use one of {', '.join(known)}")
    field = f"{kind}_unit_{number}.{key}"
    return [(f"{name}={text}", {field: text}) for text in texts]  # parsed with the unit, as the CLI's text is


def with_unit_changes(values: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with each unit change (``controlnet_unit_2.scale``) written into its unit; others as they are."""
    result = dict(values)
    for change, value in changes.items():
        field, _, key = change.partition(".")
        name = parse_unit_field(field) if key else None
        if name is None:
            result[change] = value
            continue
        param = UNIT_PARAMS[name.kind]
        units = result[param] = copy.deepcopy(list(result.get(param) or ()))
        index = name.number - FIRST_MORE[name.kind]  # type: ignore[index]
        if index >= len(units):
            raise SettingsError(field, f"this request has no {UNIT_WORDS[name.kind]} unit {name.number} to sweep")
        for shorthand, (target, _) in SHORTHAND_KEYS.items():  # a preset axis replaces the layers it stands for
            if key == shorthand:
                units[index].pop(target, None)
            elif key == target:
                units[index].pop(shorthand, None)
        units[index][key] = value
    return result
