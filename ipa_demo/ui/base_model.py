"""The base-model picker and what a loaded PNG says about models; no Gradio here.

The picker is the ``base_model`` control: an ordinary input of every GPU request, shown when the
app was started with several ``--base-model``. Picking a model, or loading a PNG made with one the
app has, changes the requests of that page only; the engine loads the model inside the request's GPU
slot (``ipa_demo.base_models``), so no caller changes what another gets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..architecture import Architecture
from ..architecture.model_path import describe_path
from ..architecture.layers import DEFAULT_ARCHITECTURE
from ..models_used import lora_notes, models_used
from ..settings import SettingsError
from ..settings.parameters import ParsedParameters


def picker_choices(names: Sequence[str]) -> list[tuple[str, str]]:
    """(label, value) per base model, by name; the first serves requests that name none."""
    return [(f"{name} (default)" if index == 0 else name, name) for index, name in enumerate(names)]


def base_model_names(engine: Any) -> tuple[str, ...]:
    """The engine's base models by name (none for an engine without a choice, such as a test's fake)."""
    base_models = getattr(engine, "base_models", None)
    return tuple(base_models.names) if base_models is not None else ()


def check_base_model(engine: Any, requested: object) -> None:
    """Refuse, naming ``base_model``, a model the engine does not have (before the request is queued)."""
    base_models = getattr(engine, "base_models", None)
    if base_models is not None and isinstance(requested, str):
        base_models.check(requested)


def models_of_png(engine: Any, text: str | ParsedParameters) -> tuple[str | None, list[str]]:
    """The base model a PNG's ``Model hash`` / ``Model`` name among the engine's (None: none of them), and
    notes on what differs from the image's models (LoRAs included)."""
    base_models = getattr(engine, "base_models", None)
    if base_models is None:
        return None, []
    used = models_used(text)
    notes = lora_notes(used, engine.loras)
    name = base_models.matching(used)
    if name is None and used.model is not None:
        notes.insert(0, f"the image was made with {used.model}, which is not configured here")
    elif name is not None and len(base_models.names) > 1:
        notes.insert(0, f"base model set to {name}, for your requests only")
    return name, notes


def base_model_architecture(engine: Any, requested: object) -> Architecture:
    """The architecture of the base model a request names, from its configs (no model loads); the default
    for an engine without a choice, or a name the request checks refuse anyway."""
    base_models = getattr(engine, "base_models", None)
    if base_models is None or not isinstance(requested, str):
        return DEFAULT_ARCHITECTURE
    try:
        return describe_path(base_models.choice(requested).path)
    except SettingsError:
        return DEFAULT_ARCHITECTURE


def base_model_architectures(engine: Any) -> dict[str, Architecture]:
    """Each of the engine's base models' architecture, by name (the page's layer grid per model)."""
    return {name: base_model_architecture(engine, name) for name in base_model_names(engine)}
