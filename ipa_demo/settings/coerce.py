"""A value as the API, the UI or a unit's text gives it, made into the type its setting holds, or refused by name."""

from __future__ import annotations

import math
import re
from typing import Any

from .checks import SettingsError, shown


def whole(value: Any, name: str) -> int:
    """Sliders deliver floats; a whole-number setting accepts 4.0 but not 4.5."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # a range check follows; an enormous int fails it by name
    if not isinstance(value, float) or not math.isfinite(value) or value != int(value):
        raise SettingsError(name, f"must be a whole number, got {shown(value)}")
    return int(value)


def number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(name, f"must be a number, got {shown(value)}")
    try:
        return float(value)
    except OverflowError:  # 10**400 from JSON
        raise SettingsError(name, f"must be finite, got {shown(value)}") from None


def flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(name, f"must be true or false, got {shown(value)}")
    return value


def floats(value: Any, name: str) -> tuple[float, ...]:
    """Numbers from text ("1, 0.5" or "1 0.5") or a list of them; None or empty text: none."""
    if value is None:
        return ()
    if isinstance(value, str):
        items = [item for item in re.split(r"[\s,]+", value.strip()) if item]
        try:
            return tuple(float(item) for item in items)
        except ValueError:
            raise SettingsError(name, f"must be numbers separated by commas, got {shown(value)}") from None
    if isinstance(value, (list, tuple)):
        return tuple(number(item, name) for item in value)
    raise SettingsError(name, f"must be numbers separated by commas, got {shown(value)}")


def floats_text(values: tuple[float, ...]) -> str:
    """A list of numbers as a textbox shows it: as short as possible, and read back exactly."""
    return ", ".join(text if float(text := f"{value:g}") == value else repr(value) for value in values)
