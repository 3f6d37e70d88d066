"""Explore's axes picked by the page's own words: a dropdown of settings (by their labels), then values.

The sweep's API parameters stay ``x_axis`` / ``y_axis`` in the command line's syntax (``ip-scale=0,0.5,1``);
the pickers write that text (a choice typed as the Chinese page names it, in English), and text typed or
sent in that syntax shows in the pickers. Every setting
with a command-line flag can be an axis (``explore.axes.axis_names``), plus the named layer presets and
weight curves.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ..architecture.layers import MASK_PRESETS, WEIGHT_CURVES
from ..explore.axes import axis_names
from ..settings.declarations import SETTINGS
from .components import HELPER
from .zh_cn import ZH_CN

# Per axis of named choices, the names as the Chinese page shows them -> the names the sweep reads (the API
# stays English).
_CHOICES = {**{setting.flag.removeprefix("--"): setting.choices for setting in SETTINGS if setting.flag and setting.choices},
            "ip-preset": tuple(MASK_PRESETS), "ip-curve": tuple(WEIGHT_CURVES)}  # fmt: skip
ENGLISH_NAMES = {axis: {ZH_CN[name]: name for name in names if name in ZH_CN} for axis, names in _CHOICES.items()}
# The shorthand axes' names on the page (the settings' own labels name the rest).
SHORTHAND_LABELS = {"ip-preset": "Layer preset", "ip-curve": "Per-layer weight curve"}
NO_AXIS_LABEL = "(none)"
VALUES_HINT = (
    "Separated by commas: numbers, or names as the setting's own control shows them (Layer preset: all, style, "
    "composition); Layer mask also takes each (each layer alone) or leave-one-out."
)
TEXT_HINT = "What the sweep runs: the two above as text, with command-line names (NAME=V1,V2,...); you may type it here."


def axis_choices() -> list[tuple[str, str]]:
    """(label as the page shows it, axis name) for every axis, in the settings' order."""
    labels = {setting.flag.removeprefix("--"): setting.label for setting in SETTINGS if setting.flag}
    return [(SHORTHAND_LABELS.get(name) or labels[name], name) for name in axis_names()]


def english_values(name: str, values: str) -> str:
    """The values as the sweep reads them: a choice typed as the Chinese page shows it (风格) in English (style)."""
    names = ENGLISH_NAMES.get(name)
    if not names:
        return values
    items = values.replace("，", ", ").split(",")
    return ",".join(item.replace(item.strip(), names[item.strip()]) if item.strip() in names else item for item in items)


def axis_text(name: str | None, values: str | None) -> str:
    """The axis in the command line's syntax; no setting picked: empty (no axis)."""
    if not name:
        return ""
    return f"{name}={english_values(name, (values or '').strip())}"


def picked(text: str | None) -> tuple[str, str] | None:
    """The (axis name, values) a text names, when its name is an axis; else None (leave the pickers)."""
    name, sep, values = (text or "").partition("=")
    name = name.strip()
    if not name and not values:
        return "", ""
    return (name, values.strip()) if sep and name in axis_names() else None


@dataclass
class AxisPicker:
    """One axis: the setting, its values, and the text (the API parameter) they write."""

    setting: gr.Dropdown
    values: gr.Textbox
    text: gr.Textbox


def axis_picker(title: str, text: str, elem_id: str, optional: bool = False) -> AxisPicker:
    """The pickers for one axis, whose API text starts as ``text``; ``optional``: "(none)" is a choice."""
    start = picked(text) or ("", "")
    choices = [(NO_AXIS_LABEL, "")] * optional + axis_choices()
    with gr.Column(min_width=280):
        setting = gr.Dropdown(choices, value=start[0], label=f"{title} — setting", elem_id=f"{elem_id}-setting")
        values = gr.Textbox(start[1], label=f"{title} — values", info=VALUES_HINT, elem_id=f"{elem_id}-values")
        box = gr.Textbox(text, label=title, info=TEXT_HINT, elem_id=elem_id)
    picker = AxisPicker(setting, values, box)
    _wire(picker)
    return picker


def _wire(picker: AxisPicker) -> None:
    def to_pickers(text: str) -> list[object]:
        found = picked(text)
        return [gr.skip(), gr.skip()] if found is None else list(found)

    for source in (picker.setting, picker.values):
        source.input(axis_text, inputs=[picker.setting, picker.values], outputs=picker.text, **HELPER)
    picker.text.input(to_pickers, inputs=picker.text, outputs=[picker.setting, picker.values], **HELPER)
