"""The checks every setting goes through, and the error they raise (at home in ``errors``, which the
model loaders raise too without importing the settings)."""

from __future__ import annotations

import math

from ..errors import SettingsError as SettingsError


def require(condition: bool, field_name: str, message: str) -> None:
    if not condition:
        raise SettingsError(field_name, message)


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float, such as 10**400
        return False


def shown(value: object) -> str:
    """A value as an error quotes it: an enormous number is not spelled out digit by digit."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}… ({len(text)} characters)"


def check_text(value: object, field_name: str) -> None:
    require(isinstance(value, str), field_name, "must be text")
    try:
        value.encode("utf-8")  # type: ignore[union-attr]
    except UnicodeEncodeError as error:  # a lone surrogate: from JSON "\ud800", or argv that is not UTF-8
        raise SettingsError(field_name, f"is not valid Unicode text (character {error.start + 1} cannot be encoded)") from None


def check_float(value: object, field_name: str, low: float, high: float) -> None:
    require(is_number(value), field_name, f"must be a number, got {shown(value)}")
    require(is_finite(value), field_name, f"must be finite, got {shown(value)}")  # type: ignore[arg-type]
    require(low <= value <= high, field_name, f"must be between {low:g} and {high:g}, got {shown(value)}")  # type: ignore[operator]


def check_int(value: object, field_name: str, low: int, high: int) -> None:
    require(isinstance(value, int) and not isinstance(value, bool), field_name, f"must be a whole number, got {shown(value)}")
    require(low <= value <= high, field_name, f"must be between {low} and {high}, got {shown(value)}")  # type: ignore[operator]


def check_choice(value: object, field_name: str, choices: tuple[str, ...]) -> None:
    require(value in choices, field_name, f"must be one of {', '.join(choices)}, got {shown(value)}")


def check_flag(value: object, field_name: str) -> None:
    require(isinstance(value, bool), field_name, f"must be true or false, got {shown(value)}")


def check_floats(value: object, field_name: str, low: float, high: float, counts: tuple[int, ...] = (), expected: str = "") -> None:
    """A tuple of numbers, each in range; empty (not given), or one of ``counts`` long when those are set
    (``expected`` says them in words)."""
    require(isinstance(value, tuple), field_name, f"must be a list of numbers, got {shown(value)}")
    if counts and value:
        wanted = expected or " or ".join(str(count) for count in counts) + " numbers"
        require(len(value) in counts, field_name, f"needs {wanted}, got {len(value)}")  # type: ignore[arg-type]
    for item in value:  # type: ignore[union-attr]
        check_float(item, field_name, low, high)
