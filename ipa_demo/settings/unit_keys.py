"""The keys a further unit is given by, on every surface: ``--controlnet-unit "kind=depth;scale=0.7"``,
the API's ``{"kind": "depth", "scale": 0.7, "image": <file>}``, a sweep axis, a PNG's unit entry.

Derived from the declarations: each declared setting of the first unit of a kind with a CLI flag is a
key, named like the flag without its prefix (``--controlnet-scale`` -> ``scale``, ``--controlnet`` ->
``kind``, ``--reference-weight`` -> ``reference-weight``), checked as the first unit's setting is. The
named shorthands (``preset``, ``curve``), a structure unit's ``is-map`` and the unit's images
(``reference``, ``image``, ``map``, ...) complete them. A value is text (the command line, a PNG) or JSON (the API); a key given more than once
is a list, which only list-valued keys take. Guess mode is one switch for the request, so no unit key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

# The one import of the layer grid in the units' surfaces (the others take these names from here).
from ..architecture.layers import MASK_PRESETS, WEIGHT_CURVES
from ..architecture.layers import STAGE_NAMES as STAGE_NAMES
from .checks import SettingsError, shown
from .declarations import BY_NAME, SETTINGS, Setting
from .units import UNIT_KINDS, UnitKind, make_unit, unit_field
from .coerce import flag, floats, number, whole

ImageCount = Literal["one", "many"]
# The images each kind of unit takes, and how many of each (the CLI's repeated key, the API's list).
IMAGE_KEYS: dict[UnitKind, dict[str, ImageCount]] = {
    "ip": {"reference": "many", "mask": "many", "negative": "one"},
    "controlnet": {"image": "one", "map": "one", "mask": "one"},
    "t2i": {"image": "one", "map": "one"},
}
SHORTHAND_KEYS = {"preset": ("layers", MASK_PRESETS), "curve": ("weights", WEIGHT_CURVES)}  # IP units only
# A structure unit's picture is a ready map: said by giving it as ``map``, or by this key where no picture
# travels (a PNG's ``Module: none``, the page's form before its image comes back).
MAP_KEY = "is-map"
NOT_PER_UNIT = ("guess_mode",)


@dataclass(frozen=True)
class UnitKey:
    """One setting of a unit: its key, the first unit's declaration it follows, and where it goes."""

    key: str
    setting: Setting
    attribute: str  # on the unit's settings object
    index: int | None = None  # one item of a tuple attribute (a stage weight)


def _key_of(kind: UnitKind, flag_text: str) -> str:
    bare = flag_text.removeprefix("--")
    return "kind" if bare == kind else bare.removeprefix(f"{kind}-")


def _keys(kind: UnitKind) -> dict[str, UnitKey]:
    keys: dict[str, UnitKey] = {}
    for setting in SETTINGS:
        if setting.section != kind or setting.flag is None or setting.name in NOT_PER_UNIT:
            continue
        attribute, *index = setting.path[1:]
        keys[_key_of(kind, setting.flag)] = UnitKey(
            _key_of(kind, setting.flag), setting, str(attribute), int(index[0]) if index else None
        )
    return keys


UNIT_KEYS: dict[UnitKind, dict[str, UnitKey]] = {kind: _keys(kind) for kind in UNIT_KINDS}


def known_keys(kind: UnitKind) -> tuple[str, ...]:
    shorthands = tuple(SHORTHAND_KEYS) if kind == "ip" else (MAP_KEY,)
    return (*UNIT_KEYS[kind], *shorthands, *IMAGE_KEYS[kind])


def _one(value: Any, key: str) -> Any:
    if isinstance(value, list):
        if len(value) != 1:
            raise SettingsError(key, f"given {len(value)} times; give it once")
        return value[0]
    return value


def _text_or(value: Any, parse: type) -> Any:
    """Text from the command line or a PNG becomes a number; JSON values stay as they came."""
    if not isinstance(value, str):
        return value
    try:
        return parse(value.strip())
    except ValueError:
        return value  # the check below names it


def _setting_value(spec: UnitKey, value: Any) -> Any:
    kind, key = spec.setting.kind, spec.key
    if kind == "floats":
        items = value if isinstance(value, list) else [value]
        if spec.setting.counts or len(items) == 1 and isinstance(items[0], str):
            return floats(items[0] if len(items) == 1 else items, key)  # "1, 0.5" or [1, 0.5]
        return floats([_text_or(item, float) for item in items], key)
    value = _one(value, key)
    if kind == "float":
        return number(_text_or(value, float), key)
    if kind == "int":
        return whole(_text_or(value, int), key)
    if kind == "flag":
        return flag({"true": True, "false": False}.get(value, value) if isinstance(value, str) else value, key)
    return value  # choices and masks: checked by the settings object


def _shorthand(key: str, value: Any) -> tuple[str, Any]:
    target, named = SHORTHAND_KEYS[key]
    name = _one(value, key)
    if name not in named:
        raise SettingsError(key, f"must be one of {', '.join(named)}, got {shown(name)}")
    return target, named[name]


def _attributes(kind: UnitKind, values: Mapping[str, Any]) -> dict[str, Any]:
    keys, attributes, stages = UNIT_KEYS[kind], {}, {}
    for key, value in values.items():
        if key in IMAGE_KEYS[kind]:
            continue
        if kind != "ip" and key == MAP_KEY:
            attributes["is_map"] = _setting_value(UnitKey(key, BY_NAME["control_is_map"], "is_map"), value)
            continue
        if kind == "ip" and key in SHORTHAND_KEYS:
            key, value = _shorthand(key, value)
            if key in values:
                raise SettingsError(key, "give it or its named shorthand, not both")
            attributes[keys[key].attribute] = value
            continue
        if key not in keys:
            raise SettingsError(key, f"no such key for a {kind} unit; known: {', '.join(known_keys(kind))}")
        spec = keys[key]
        if spec.index is not None:
            stages[spec.index] = _setting_value(spec, value)
        else:
            attributes[spec.attribute] = _setting_value(spec, value)
    if stages:
        defaults = list(UNIT_KINDS[kind]().stage_weights)
        for index, weight in stages.items():
            defaults[index] = weight
        attributes["stage_weights"] = tuple(defaults)
    return attributes


def _images(kind: UnitKind, values: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
    images: dict[str, tuple[Any, ...]] = {}
    for key, count in IMAGE_KEYS[kind].items():
        if values.get(key) in (None, [], ()):
            continue
        given = values[key]
        items = tuple(given) if isinstance(given, (list, tuple)) else (given,)
        if count == "one" and len(items) != 1:
            raise SettingsError(key, f"one image per unit, got {len(items)}")
        images[key] = items
    return images


def _error_key(kind: UnitKind) -> dict[str, str]:
    """How ``make_unit``'s reasons name a setting (``reference_weights``) -> the unit key (``reference-weight``)."""
    names = {spec.setting.name.removeprefix(f"{kind}_"): key for key, spec in UNIT_KEYS[kind].items()}
    return {**names, "kind": "kind"}


def read_unit(kind: UnitKind, number_: int, values: Mapping[str, Any]) -> tuple[Any, dict[str, tuple[Any, ...]]]:
    """One unit's settings and its images (as given: paths or files) from its keys; errors name the unit
    and the key (``controlnet_unit_2``, ``scale: must be between 0 and 2, got 3``)."""
    field = unit_field(kind, number_)
    try:
        if kind != "ip" and "kind" not in values:
            raise SettingsError("kind", f"say which {kind} model the unit uses, e.g. kind=canny")
        attributes = _attributes(kind, values)
        images = _images(kind, values)
        if kind != "ip":
            if attributes.get("is_map") and "image" in images:
                raise SettingsError(MAP_KEY, "a ready map goes under map, not image (image is preprocessed)")
            attributes["is_map"] = attributes.get("is_map", False) or "map" in images
    except SettingsError as error:
        raise SettingsError(field, f"{error.field}: {error.reason}") from None
    try:
        unit = make_unit(kind, number_, attributes)
    except SettingsError as error:
        name, sep, rest = error.reason.partition(": ")
        key = _error_key(kind).get(name, name)
        raise SettingsError(error.field, f"{key}{sep}{rest}") from None
    return unit, images


def unit_values(kind: UnitKind, unit: Any) -> dict[str, Any]:
    """A unit's settings by key, as JSON (the inverse of ``read_unit`` without images)."""
    values: dict[str, Any] = {}
    for key, spec in UNIT_KEYS[kind].items():
        value = getattr(unit, spec.attribute)
        values[key] = value[spec.index] if spec.index is not None else (list(value) if isinstance(value, tuple) else value)
    if getattr(unit, "is_map", False):
        values[MAP_KEY] = True
    return values
