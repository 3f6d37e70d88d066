"""Input components that leave range, choice and image checks to the event's validator.

Gradio's Slider, Radio, Dropdown and Image raise while preprocessing an out-of-range number, an
unknown choice or an unreadable upload. Before a validator, that reaches an API caller as a bare
"400 Bad Request" naming no parameter. These keep the raw value instead (an unreadable image as
its path, which Gradio has already checked lies in its upload cache), so the validator rejects it
with the parameter's name and the rule it broke. The wrapping is per instance: a subclass would
make Gradio write a .pyi file beside this module.

Every exception counts, not only Gradio's own: gr.Image opens the upload with Pillow to learn its
mode, and a header claiming 30000x30000 pixels raises ``DecompressionBombError`` (no OSError) there.
"""

from __future__ import annotations

from typing import Any, TypeVar

import gradio as gr

from ..settings import Limits
from ..settings.declarations import BY_NAME

Input = TypeVar("Input", bound=gr.components.Component)
# The options of the controls' own helper events: private, instant, silent.
HELPER: dict[str, Any] = {"queue": False, "show_progress": "hidden", "api_visibility": "private"}


def lenient(component: Input) -> Input:
    strict = component.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return strict(payload)
        except Exception:  # noqa: BLE001 (the validator checks the raw value and names the parameter)
            return getattr(payload, "path", payload)

    component.preprocess = preprocess  # type: ignore[method-assign]
    return component


def slider(*args: Any, **kwargs: Any) -> gr.Slider:
    return lenient(gr.Slider(*args, **kwargs))


def radio(*args: Any, **kwargs: Any) -> gr.Radio:
    return lenient(gr.Radio(*args, **kwargs))


def dropdown(*args: Any, **kwargs: Any) -> gr.Dropdown:
    return lenient(gr.Dropdown(*args, **kwargs))


def image(*args: Any, **kwargs: Any) -> gr.Image:
    return lenient(gr.Image(*args, **kwargs))


def control(name: str, limits: Limits, value: Any, **overrides: Any) -> Any:
    """The component of a declared setting: its kind, label, help, range (capped by ``limits``) or choices, and value."""
    setting = BY_NAME[name]
    options: dict[str, Any] = {"label": setting.label, "info": setting.help, "elem_id": name, **overrides}
    if setting.control == "slider":
        low = setting.ui_low if setting.ui_low is not None else setting.low
        high = getattr(limits, setting.ui_limit) if setting.ui_limit else setting.high
        return slider(low, high, value=value, step=setting.step, **options)
    if setting.control in ("radio", "dropdown"):
        make = radio if setting.control == "radio" else dropdown
        choices = options.pop("choices", list(setting.choices))  # the server's own (base models)
        return make(choices, value=value, **options)
    if setting.control == "checkbox":
        return gr.Checkbox(value=value, **options)
    if setting.control == "number":
        return gr.Number(value=value, precision=0, **options)
    return gr.Textbox(value, **options)
