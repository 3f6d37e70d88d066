"""The per-layer weights grid in the selected base model's terms: one column per attention module of its
architecture (16 on SD 1.5, 11 on SDXL), headed by the module's index and stage, and the weight curves
over those modules. No Gradio events here: ``reference_controls.layer_weights`` wires them.

The grid is a view of the weights' text and never rewrites it: typed weights show when the model takes
them (its module count; another model's named curve as this model's curve, as the engine runs it);
empty weights show what the layer mask and stage weights stand for on the model, or nothing where the
engine would refuse them (stage weights that differ, which name SD 1.5's stages, on another model).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..architecture import Architecture
from ..architecture.layers import DEFAULT_ARCHITECTURE, model_weights, weight_curves, weights_from_mask
from ..settings import SettingsError
from ..settings.values import floats, floats_text
from .layer_grid import chosen_architecture, model_mask


@dataclass(frozen=True)
class ModelChoice:
    """The page's base-model picker and each of its models' architecture (the grid follows the choice)."""

    control: Any  # the ``base_model`` dropdown
    architectures: Mapping[str, Architecture]

    def architecture(self, name: object) -> Architecture:
        """The named model's; the first model's for an unknown name (what a request naming none runs)."""
        return chosen_architecture(self.architectures, name)


def weight_headers(architecture: Architecture) -> list[str]:
    """``L0 down0`` …: each attention module's index in execution order and its stage."""
    return [f"L{index} {stage}" for index, stage in enumerate(architecture.stage_of_module)]


def grid_row(text: str, mask: str, stage_weights: tuple[float, ...], architecture: Architecture) -> list[float] | None:
    """The grid's one row on ``architecture``, or None when the text or shorthands do not read there (yet)."""
    try:
        typed = floats(text, "ip_weights")
    except SettingsError:
        return None
    if typed:
        weights = model_weights(typed, architecture)
        return list(weights) if weights is not None and len(weights) == len(architecture.modules) else None
    bits = model_mask(mask, architecture)
    if bits is None or len(stage_weights) != len(DEFAULT_ARCHITECTURE.stages):
        return None
    if architecture.family == DEFAULT_ARCHITECTURE.family:
        return list(weights_from_mask(bits, stage_weights, architecture))
    if len(set(stage_weights)) > 1:
        return None  # SD 1.5's stages: the engine refuses them on another model
    return [stage_weights[0] if bit == "1" else 0.0 for bit in bits]


def curve_text(name: str, architecture: Architecture) -> str:
    """A named curve over the model's modules, as the weights' text ("" for no curve)."""
    curve = weight_curves(architecture).get(name)
    return floats_text(curve) if curve else ""
