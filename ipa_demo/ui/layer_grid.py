"""The layer grid of each base model family the server runs, and what switching the base model does to it.

SD 1.5's grid (16 toggles in 7 stage rows, with the stage sliders) is ``controls._layer_grid``; a server
with SDXL base models also gets SDXL's: its 11 attention modules in 5 stage rows, each toggle named by
where it sits and what InstantStyle found it mostly shapes (``stage_table.module_label``). The page shows
the grid of the selected base model. Both grids write the one mask text, in their own length; switching
the model never rewrites what was typed: a mask or weights that the new model cannot take, of any IP-Adapter
unit that would act (the first, the second adapter, the further units), get a note beside the mask, saying so
and naming the unit (a named mask, such as *style*, carries over as that model's preset; a named curve too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..architecture import KNOWN, Architecture
from ..architecture.layers import DEFAULT_ARCHITECTURE, mask_presets, model_weights
from ..architecture.lengths import weights_expectation
from ..settings import SettingsError
from ..settings.unit_names import UNIT_PARAMS
from ..settings.units import FIRST_MORE
from ..settings.values import floats, floats_text
from . import explainer
from .components import HELPER
from .stage_table import module_label
from .translation import wants_chinese

@dataclass
class FamilyGrid:
    architecture: Architecture
    column: Any  # gr.Column, shown while a model of this family is selected
    toggles: list[gr.Checkbox]


def model_mask(mask: str, architecture: Architecture) -> str | None:
    """The bits a mask text stands for on ``architecture``: its own length as given, another model's named
    mask as this model's preset (what the engine runs), else None."""
    if not isinstance(mask, str) or set(mask) - {"0", "1"}:
        return None
    if len(mask) == len(architecture.modules):
        return mask
    for known in KNOWN:
        named = next((name for name, bits in mask_presets(known).items() if bits == mask), None)
        if named is not None:
            return mask_presets(architecture)[named]
    return None


def chosen_architecture(architectures: Mapping[str, Architecture], name: object) -> Architecture:
    """The named base model's architecture; the first model's for an unknown name (what a request naming
    none runs); SD 1.5's for a server that lists none."""
    found = architectures.get(name) if isinstance(name, str) else None
    return found or next(iter(architectures.values()), DEFAULT_ARCHITECTURE)


def family_grid(architecture: Architecture, mask: str, visible: bool) -> FamilyGrid:
    """A grid of another family than SD 1.5: toggles per module in stage rows, no stage sliders."""
    bits = model_mask(mask, architecture) or "0" * len(architecture.modules)
    toggles: list[gr.Checkbox] = []
    with gr.Column(visible=visible, elem_id=f"layer-grid-{architecture.family}") as column:
        gr.Markdown(explainer.SDXL_GRID_HINT, elem_classes=["grid-hint"])
        for stage in architecture.stages:
            with gr.Row(equal_height=True, elem_classes=["stage-row"]):
                gr.Markdown(explainer.stage_title(stage.name, architecture), elem_classes=["stage-title"], min_width=90)
                with gr.Row(elem_classes=["stage-toggles"]):
                    for index in stage.modules:
                        toggles.append(gr.Checkbox(
                            value=bits[index] == "1", label=module_label(explainer.WORDS, architecture, index),
                            elem_id=f"{architecture.family}-layer-{index}", container=False, min_width=56,
                        ))  # fmt: skip
    return FamilyGrid(architecture, column, toggles)


def fit_note(architecture: Architecture, mask: str, weights: str, chinese: bool = False) -> str:
    """What the selected model cannot take of the typed mask and weights, in words ("" when it takes both)."""
    return " ".join(f"⚠ {note}" for note in _unit_notes(architecture, mask, weights, chinese))


def _unit_notes(architecture: Architecture, mask: Any, weights: Any, chinese: bool) -> list[str]:
    notes: list[str] = []
    count = len(architecture.modules)
    if isinstance(mask, str) and mask and model_mask(mask, architecture) is None:
        notes.append(
            f"层蒙版有 {len(mask)} 位，{architecture.title} 需要 {count} 位（每个注意力模块一位）：请勾选网格或选择预设。"
            if chinese else f"The layer mask has {len(mask)} bits; {architecture.title} takes {count} (one per "
            "attention module): tick the grid or pick a preset."
        )  # fmt: skip
    try:
        typed = floats(floats_text(tuple(weights)) if isinstance(weights, list) else weights, "ip_weights")
    except (SettingsError, TypeError, ValueError):
        typed = ()
    given = len(typed)
    if given and model_weights(typed, architecture) is None:  # a named curve carries over, as the engine runs it
        blocks = len(architecture.blocks)
        per_block = f"或 {blocks} 个（每个 Transformer 块一个）" if blocks != count else ""
        notes.append(
            f"逐层权重有 {given} 个数字，{architecture.title} 需要 {count} 个（每个注意力模块一个）{per_block}。"
            if chinese else f"The per-layer weights have {given} numbers; {weights_expectation(architecture)}."
        )  # fmt: skip
    return notes


def _acts(scale: Any) -> bool:
    try:
        return float(scale) > 0
    except (TypeError, ValueError):
        return False


def every_unit_note(architecture: Architecture, first: tuple[Any, Any], second: tuple[Any, Any, Any],
                    further: Any, chinese: bool = False) -> str:  # fmt: skip
    """``fit_note`` for every IP-Adapter unit the request would run: the first (its mask and weights, unnamed as
    before), the second adapter when its λ is above 0 (its λ, mask and weights), and each further unit of the
    ``ip_units`` parameter (its layers or preset and weights), each note named after its unit."""
    notes = _unit_notes(architecture, *first, chinese)
    named: list[tuple[str, Any, Any]] = []
    if _acts(second[0]):
        named.append(("第二个适配器" if chinese else "Second adapter", second[1], second[2]))
    units = further if isinstance(further, list) else []
    for number, unit in enumerate(units, start=FIRST_MORE["ip"]):
        if isinstance(unit, dict) and _acts(unit.get("scale", 1.0)):
            label = f"IP-Adapter 单元 {number}" if chinese else f"IP-Adapter unit {number}"
            named.append((label, unit.get("layers", ""), unit.get("weights", "")))
    for label, mask, weights in named:
        colon = "：" if chinese else ": "
        notes += [f"{label}{colon}{note}" for note in _unit_notes(architecture, mask, weights, chinese)]
    return " ".join(f"⚠ {note}" for note in notes)


def wire_families(
    grids: list[FamilyGrid],
    sd15_column: Any,
    fields: Mapping[str, Any],
    note: gr.Markdown,
    architectures: Mapping[str, Architecture],
) -> None:
    """Toggles write the mask; the mask redraws the toggles; the base model picks the grid and the note."""
    mask, weights, base_model = fields["ip_layers"], fields["ip_weights"], fields["base_model"]

    for grid in grids:
        toggles = grid.toggles

        def from_toggles(*bits: bool) -> str:
            return "".join("1" if bit else "0" for bit in bits)

        def to_toggles(text: str, grid: FamilyGrid = grid) -> list[Any]:
            bits = model_mask(text, grid.architecture)
            return [gr.skip()] * len(grid.toggles) if bits is None else [bit == "1" for bit in bits]

        for toggle in toggles:
            toggle.input(from_toggles, inputs=toggles, outputs=mask, **HELPER)
        mask.change(to_toggles, inputs=mask, outputs=toggles, **HELPER)

    def shown(name: str, text: str, typed: str, second_scale: Any, second_mask: Any, second_weights: Any,
              further: Any, gradio_request: gr.Request | None = None) -> list[Any]:  # fmt: skip
        architecture = chosen_architecture(architectures, name)
        columns = [gr.Column(visible=architecture.family == DEFAULT_ARCHITECTURE.family)]
        columns += [gr.Column(visible=grid.architecture.family == architecture.family) for grid in grids]
        second = (second_scale, second_mask, second_weights)
        chinese = wants_chinese(gradio_request)
        return [*columns, every_unit_note(architecture, (text, typed), second, further, chinese)]

    outputs = [sd15_column, *(grid.column for grid in grids), note]
    others = [fields[name] for name in ("ip2_scale", "ip2_layers", "ip2_weights", UNIT_PARAMS["ip"])]
    inputs = [base_model, mask, weights, *others]
    gr.on([control.change for control in inputs], shown, inputs=inputs, outputs=outputs, **HELPER)


def preset_mask(name: str, base_model: str, architectures: Mapping[str, Architecture]) -> str | None:
    """A preset's bits for the selected base model (its own length)."""
    return mask_presets(chosen_architecture(architectures, base_model)).get(name)

