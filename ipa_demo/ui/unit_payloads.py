"""A unit parameter's raw payload, checked before Gradio touches it: its shape, and every file in it, by unit.

A unit parameter is a ``gr.JSON`` input, which Gradio hands on as it came: a file inside it could name any
path on the server, with or without Gradio's ``meta``. So before Gradio's own preprocessing (which would
move a ``meta``'d file or fail with a text naming no input), each unit must be an object, each image key
must hold files (a list for the keys that take several), and each file must have been uploaded to this
app (``payloads.checked_file``); a file without ``meta`` gets it. Refusals name the unit and key:
``ControlNet unit 2 image (controlnet_units): only files uploaded to this app ...``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from ..settings.unit_keys import IMAGE_KEYS
from ..settings.unit_names import UNIT_PARAMS, unit_label
from ..settings.units import FIRST_MORE, UnitKind, unit_field
from .errors import user_error

MAX_UNITS_SENT = 16  # units of a kind one payload may hold at all; the server's own cap (IPA_MAX_UNITS) follows
MAX_FILES_PER_KEY = 16
MAX_KEYS = 64


def _files(value: Any, name: str, many: bool) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    if not many and len(items) != 1:
        raise user_error(f"{name}: one image, got {len(items)}.")
    if len(items) > MAX_FILES_PER_KEY:
        raise user_error(f"{name}: at most {MAX_FILES_PER_KEY} images, got {len(items)}.")
    return items


def checked_units(kind: UnitKind, payload: Any, check_file: Callable[[dict[str, Any], str], dict[str, Any]]) -> Any:
    """The payload with every unit's files checked (``check_file`` refuses or returns the file with meta)."""
    param = UNIT_PARAMS[kind]
    if payload is None or payload == "":
        return []
    if not isinstance(payload, list):
        raise user_error(f"{unit_label(param)} ({param}): must be a list of units, each an object such as "
                         '{"kind": "canny", "image": <file>}.')  # fmt: skip
    if len(payload) > MAX_UNITS_SENT:
        raise user_error(f"{unit_label(param)} ({param}): at most {MAX_UNITS_SENT} units, got {len(payload)}.")
    checked = []
    for number, unit in enumerate(payload, start=FIRST_MORE[kind]):
        where = f"{unit_label(unit_field(kind, number))} ({param})"
        if not isinstance(unit, dict) or len(unit) > MAX_KEYS:
            raise user_error(f"{where}: must be an object of at most {MAX_KEYS} keys such as "
                             '{"kind": "canny", "scale": 0.5, "image": <file>}.')  # fmt: skip
        unit = dict(unit)
        for key, count in IMAGE_KEYS[kind].items():
            if unit.get(key) in (None, [], ""):
                continue
            name = f"{unit_label(unit_field(kind, number))} {key} ({param})"
            files = [check_file(item if isinstance(item, dict) else {"path": item}, name)
                     for item in _files(unit[key], name, count == "many")]  # fmt: skip
            unit[key] = files if count == "many" else files[0]
        checked.append(unit)
    return checked


def units_input(kind: UnitKind, **options: Any) -> gr.JSON:
    """The hidden input holding ``kind``'s further units (the API parameter ``<kind>_units``)."""
    param = UNIT_PARAMS[kind]
    return gr.JSON(value=[], label=unit_label(param), elem_id=param, visible=False, **options)
