"""Sizes a server takes in megabytes (2²⁰ bytes) from its ``IPA_*`` variables, checked the same way everywhere."""

from __future__ import annotations

import os

from .checks import SettingsError

MEGABYTE = 1024 * 1024


def megabytes(variable: str, default: float, given: float | str | None = None) -> int:
    """``given`` (else the variable ``variable``, else ``default``) megabytes, in bytes; refused naming ``variable``
    unless it is a number above 0."""
    raw = os.environ.get(variable, str(default)) if given is None else given
    try:
        amount = float(raw)
    except ValueError:
        raise SettingsError(variable, f"must be a number of megabytes, got {raw!r}") from None
    if not 0 < amount < float("inf"):
        raise SettingsError(variable, f"must be above 0, got {raw!r}")
    return max(1, int(amount * MEGABYTE))
