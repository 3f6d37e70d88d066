"""The base-model picker: shown when the app was started with several ``--base-model``.

Switching is the engine's, not the request's: it changes the model for every session, waits for
running generations to end, and releases the old model's memory. It runs in the GPU queue, so it
never competes with a generation for the device.
"""

from __future__ import annotations

from typing import Any, Protocol

import gradio as gr

from ..models.used import option_name
from .errors import reported_errors


class SwitchingEngine(Protocol):
    base_model_options: tuple[str, ...]

    def switch_base_model(self, base_model: str | None, vae: str | None = None) -> None: ...


def picker_choices(options: tuple[str, ...]) -> list[tuple[str, str]]:
    """(label, value) per option; "" is the catalog's SD1.5."""
    return [(option_name(option) or "stable-diffusion-v1-5 (default)", option) for option in options]


def add_base_model_picker(engine: Any, gpu: dict[str, Any]) -> gr.Dropdown | None:
    """A dropdown over the engine's base models, or None when there is nothing to choose."""
    options: tuple[str, ...] = getattr(engine, "base_model_options", ())
    if len(options) < 2 or not hasattr(engine, "switch_base_model"):
        return None
    picker = gr.Dropdown(
        picker_choices(options),
        value=options[0],
        label="Base model (for every user of this app; switching waits for running generations)",
        elem_id="base-model",
    )

    def switch(option: str) -> str:
        with reported_errors("switching the base model"):
            vae = engine.vae.requested if getattr(engine, "vae", None) is not None else None
            engine.switch_base_model(option or None, vae)
        return option

    picker.input(switch, inputs=picker, outputs=picker, api_visibility="private", **gpu)
    return picker
