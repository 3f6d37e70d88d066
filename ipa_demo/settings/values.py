"""A request as one flat set of named values (the API's keyword arguments, the UI's controls) and back.

Derived from the declarations: every declared setting is one value, named after it, coerced by
its kind (sliders deliver floats: a whole-number setting takes 4.0 but not 4.5) and checked by the
settings objects. The image inputs sit between the settings in the API's parameter order.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from .checks import SettingsError
from .coerce import flag, floats, floats_text, number, whole
from .declarations import BY_NAME, IMAGE_PARAMS, MAX_SEED, RANDOM_SEED, SETTINGS, Setting, label_of, value_at
from .generation import SECTIONS, GenerationSettings
from .unit_keys import read_unit, unit_values
from .unit_names import UNIT_PARAMS, unit_param
from .units import FIRST_MORE

# Where each image input sits in the API's parameter order: just before the setting named here.
_IMAGE_BEFORE = {
    "ip_scale": ("reference_images",),
    "control_is_map": ("control_image",),
    "strength": ("init_image", "mask_image"),
    "ip_weights": ("negative_reference",),
    "reference_weights": ("reference_masks",),
    "ip2_scale": ("ip2_reference_images", "ip2_masks"),
}
# After every setting: the further units, one list per kind (``unit_keys``; their images inside).
PARAMS: tuple[str, ...] = tuple(
    name for setting in SETTINGS for name in (*_IMAGE_BEFORE.get(setting.name, ()), setting.name)
) + tuple(UNIT_PARAMS.values())


def _coerce(setting: Setting, value: Any) -> Any:
    if setting.kind == "float":
        return number(value, setting.name)
    if setting.kind == "int":
        return whole(value, setting.name)
    if setting.kind == "flag":
        return flag(value, setting.name)
    if setting.kind == "floats":
        return floats(value, setting.name)
    if setting.kind == "text" and value is None:  # an emptied textbox over the API
        return ""
    return value


def resolve_seed(seed: Any, rng: random.Random | None = None) -> int:
    """The seed to use: the one given, or a random one for -1."""
    chosen = whole(seed, "seed")
    if chosen == RANDOM_SEED:
        return (rng or random.SystemRandom()).randint(0, MAX_SEED)
    return chosen


def check_present(values: Mapping[str, Any]) -> None:
    missing = [setting.name for setting in SETTINGS if setting.name not in values]
    if missing:
        raise SettingsError(missing[0], "is missing")


def settings_from_values(values: Mapping[str, Any], seed: int) -> GenerationSettings:
    """Build the settings from every declared value; raises ``SettingsError`` naming the first bad one."""
    check_present(values)
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    for setting in SETTINGS:
        value = seed if setting.name == "seed" else _coerce(setting, values[setting.name])
        target = sections[setting.section] if setting.section else top
        attribute, *index = setting.path[1:] if setting.section else setting.path
        if index:  # one item of a tuple setting (a stage weight)
            target.setdefault(attribute, {})[index[0]] = value
        else:
            target[attribute] = value  # type: ignore[index]
    for items in sections.values():
        for attribute, value in items.items():
            if isinstance(value, dict):
                items[attribute] = tuple(value[position] for position in sorted(value))
    built = {section: _section(section, kind, sections[section]) for section, kind in SECTIONS.items()}
    return GenerationSettings(**top, **built, **_more_units(values))


def _more_units(values: Mapping[str, Any]) -> dict[str, tuple[Any, ...]]:
    """``more_<kind>_units`` from the unit parameters (optional: an old caller sends none); images are not read here."""
    more: dict[str, tuple[Any, ...]] = {}
    for kind, param in UNIT_PARAMS.items():
        given = values.get(param)
        if given in (None, "", []):
            continue
        if not isinstance(given, list) or not all(isinstance(unit, Mapping) for unit in given):
            raise SettingsError(param, 'must be a list of units, each an object such as {"kind": "canny", "scale": 0.5}')
        units = (read_unit(kind, number, unit)[0] for number, unit in enumerate(given, start=FIRST_MORE[kind]))  # type: ignore[arg-type]
        more[f"more_{kind}_units"] = tuple(units)
    return more


def _section(section: str, kind: type, values: dict[str, Any]) -> Any:
    """One settings object; a second unit's error names its own setting (ip2_end, not ip_end)."""
    try:
        return kind(**values)
    except SettingsError as error:
        own = f"{section}_{error.field.removeprefix('ip_')}"
        if section == "ip2" and error.field.startswith("ip_") and own in BY_NAME:
            reason = error.reason.replace(label_of("ip_start"), label_of("ip2_start"))  # the window rule
            raise SettingsError(own, reason) from None
        raise


def values_from_settings(settings: GenerationSettings) -> dict[str, Any]:
    """Every declared setting's value (the inverse of ``settings_from_values``); lists of numbers as text."""
    values = {setting.name: value_at(settings, setting) for setting in SETTINGS}
    for setting in SETTINGS:
        if setting.kind == "floats":
            values[setting.name] = floats_text(values[setting.name])
    for kind, param in UNIT_PARAMS.items():
        values[param] = [unit_values(kind, unit) for unit in getattr(settings, f"more_{kind}_units")]  # type: ignore[arg-type]
    return values


def default_values() -> dict[str, Any]:
    """What the controls show on a fresh page: the settings' defaults, a random seed, no images."""
    values = values_from_settings(GenerationSettings(prompt=""))
    values.update(seed=RANDOM_SEED, **dict.fromkeys(IMAGE_PARAMS))
    return values


def param_for_field(field: str) -> str | None:
    """The API parameter a ``SettingsError`` is about, or None if it is about no single one."""
    return field if field in PARAMS else unit_param(field)

