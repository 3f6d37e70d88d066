"""The command line's further units: repeatable ``--ip-unit``, ``--controlnet-unit`` and ``--t2i-unit``.

Each takes ``key=value`` pairs separated by ``;`` (keys in ``unit_keys``; a key repeated for a list):
``--controlnet-unit "kind=depth;image=room.jpg;scale=0.7;start=0;end=0.8"``. The existing flags stay
the first unit of each kind (and ``--ip2-*`` the second IP-Adapter unit); these come after them, in
the order given. An error names the flag and which of its occurrences, counted from 1, then the key:
``--controlnet-unit 2: scale: must be between 0 and 2, got 3``. The text is split with ``str.split``
and ``str.partition``: linear in its length.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .checks import SettingsError
from .generation import GenerationSettings
from .unit_keys import IMAGE_KEYS, known_keys, read_unit
from .unit_names import parse_unit_field
from .units import FIRST_MORE, UNIT_KINDS, UnitKind

UNIT_FLAGS: dict[UnitKind, str] = {"ip": "--ip-unit", "controlnet": "--controlnet-unit", "t2i": "--t2i-unit"}
_DEST: dict[UnitKind, str] = {"ip": "ip_unit", "controlnet": "controlnet_unit", "t2i": "t2i_unit"}
_EXAMPLES: dict[UnitKind, str] = {
    "ip": "reference=face.png;variant=plus-face;scale=0.6;layers=1111111111111111",
    "controlnet": "kind=depth;image=room.jpg;scale=0.7;start=0;end=0.8",
    "t2i": "kind=canny;map=edges.png;scale=0.8",
}


def parse_unit_text(text: str) -> dict[str, Any]:
    """``"kind=canny;map=a.png;mask=b.png"`` -> ``{"kind": "canny", ...}``; a repeated key gives a list."""
    values: dict[str, list[str]] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise SettingsError("unit", f"{part.strip()[:40]!r} is not key=value")
        values.setdefault(key, []).append(value)
    return {key: items[0] if len(items) == 1 else items for key, items in values.items()}


def add_unit_arguments(parser: argparse.ArgumentParser) -> None:
    for kind, flag_text in UNIT_FLAGS.items():
        parser.add_argument(
            flag_text, dest=_DEST[kind], action="append", default=[], metavar="KEY=VALUE;...",
            help=f"one more {kind} unit after the ones the other flags set (repeatable), e.g. "
            f"\"{_EXAMPLES[kind]}\"; keys: {', '.join(known_keys(kind))}",
        )  # fmt: skip


@dataclass(frozen=True)
class UnitPaths:
    """The image files of one further unit, by key (``reference`` may hold several)."""

    kind: UnitKind
    number: int  # over all units of its kind (``units.unit_field``)
    paths: dict[str, tuple[Path, ...]]


def apply_unit_arguments(args: argparse.Namespace, settings: GenerationSettings) -> tuple[GenerationSettings, list[UnitPaths]]:
    """``settings`` with the ``--*-unit`` flags' units after its own, and each unit's image files."""
    more: dict[str, tuple[Any, ...]] = {}
    paths: list[UnitPaths] = []
    for kind in UNIT_KINDS:
        units = []
        for offset, text in enumerate(getattr(args, _DEST[kind], [])):
            number = FIRST_MORE[kind] + offset
            try:
                values = parse_unit_text(text)
            except SettingsError as error:
                raise SettingsError(f"{kind}_unit_{number}", error.reason) from None
            unit, images = read_unit(kind, number, values)
            units.append(unit)
            paths.append(UnitPaths(kind, number, {key: tuple(Path(item) for item in items) for key, items in images.items()}))
        more[f"more_{kind}_units"] = tuple(units)
    return replace(settings, **more), paths


def unit_flag_message(field: str) -> str | None:
    """How the command line names a unit's field: ``controlnet_unit_3`` -> ``--controlnet-unit 2``, ``ip_units``
    -> ``--ip-unit``; None for a field of no further unit."""
    if field in (f"{kind}_units" for kind in UNIT_FLAGS):
        return UNIT_FLAGS[field.removesuffix("_units")]  # type: ignore[index]
    name = parse_unit_field(field)
    if name is None or name.number < FIRST_MORE[name.kind]:  # type: ignore[index]
        return None
    named = f"{UNIT_FLAGS[name.kind]} {name.number - FIRST_MORE[name.kind] + 1}"  # type: ignore[index]
    return f"{named}: {name.key}" if name.key in IMAGE_KEYS[name.kind] else named  # type: ignore[index]
