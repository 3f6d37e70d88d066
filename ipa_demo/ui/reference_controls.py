"""The reference options a one-reference user never needs, in one closed accordion.

Per-layer weights (a grid, one per layer, filled from a curve or from the layer mask and stage weights);
how several references combine and their weights; region masks (uploaded or drawn); the negative
reference image; a second adapter unit. ``unit_options`` builds them for any IP-Adapter unit: the first
one here (``add`` is ``build_controls``' own: it makes a declared setting's control and records it by
name), the further ones in their forms (``unit_controls``), named after their unit (``Naming``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr
from PIL import Image

from ..architecture.layers import DEFAULT_ARCHITECTURE, STAGE_NAMES, WEIGHT_CURVES
from ..settings.values import floats_text
from . import components as uc
from .components import HELPER
from .errors import user_error
from .helper_errors import helper_box, said_beside_only
from .weight_grid import ModelChoice, curve_text, grid_row, weight_headers

NO_CURVE = "—"
ADD_MASK = "Add the drawing as the next mask"
DRAW_MASK = "Draw a mask (paint white where the reference acts)"


def shown_weights(text: str, mask: str, *stage_weights: float) -> list[list[float]] | Any:
    """The grid's one row on SD 1.5: the weights typed, else the ones the mask and stage weights stand for."""
    row = grid_row(text, mask, tuple(float(weight) for weight in stage_weights), DEFAULT_ARCHITECTURE)
    return gr.skip() if row is None else [row]


def weights_from_grid(table: Any) -> str | Any:
    """The grid's row as the weights' text; a cell that is not a number leaves the text as it was."""
    rows = table.values.tolist() if hasattr(table, "values") else table
    try:
        return floats_text(tuple(float(cell) for cell in rows[0]))
    except (TypeError, ValueError, IndexError):
        return gr.skip()


@dataclass(frozen=True)
class Naming:
    """How one unit's option controls are labelled and found: the first unit keeps its own labels and ids;
    a further unit's are its name and a part (``IP-Adapter unit 3: region masks``, ``ip-unit-3-masks``)."""

    unit: str = ""  # "IP-Adapter unit 3"; empty for the first unit
    prefix: str = ""  # the elem_id prefix of a further unit, "ip-unit-3"

    def label(self, first: str, part: str) -> str:
        return f"{self.unit}: {part}" if self.unit else first

    def id(self, first: str, part: str) -> str:
        return f"{self.prefix}-{part}" if self.prefix else first

    def named(self, first_id: str, part: str, label: str) -> dict[str, Any]:
        """A declared control's overrides: none for the first unit (its declaration's label and id)."""
        return {"label": f"{self.unit}: {label}", "elem_id": f"{self.prefix}-{part}"} if self.unit else {}


FIRST_UNIT = Naming()
Make = Callable[..., Any]  # (a declared setting's name, **overrides) -> its control, made where it is called
# The shorthands' values -> the layer mask and stage weights they stand for (None: not readable now).
Shorthands = Callable[..., "tuple[str, tuple[float, ...]] | None"]


@dataclass
class ReferenceOptions:
    """One unit's controls beyond references, variant, λ, layers and window."""

    weights: gr.Textbox  # per-layer weights as text
    combine: gr.Radio
    reference_weights: gr.Textbox
    masks: gr.Gallery
    negative: gr.Image


def _first_unit_shorthands(mask: str, *stage_weights: float) -> tuple[str, tuple[float, ...]]:
    return mask, tuple(stage_weights)


def layer_weights(make: Make, naming: Naming, shorthands: list[Any], meaning: Shorthands = _first_unit_shorthands,
                  fill_label: str = "From mask and stages",
                  model: ModelChoice | None = None) -> gr.Textbox:  # fmt: skip
    """The per-layer weights: a curve, a fill from the unit's shorthands (``meaning`` reads them), a clear, the
    grid and its text; returns the text (the setting ``ip_weights``). With ``model`` (the base-model picker) the
    grid and the curves are the chosen model's modules; without, SD 1.5's."""
    gr.Markdown("**Per-layer weights**: one number per layer (0–3), multiplying λ; empty: the mask × stage weights.")
    first = model.architecture(model.control.value) if model else DEFAULT_ARCHITECTURE
    picker = [model.control] if model else []
    with gr.Row(equal_height=True):
        curve = uc.dropdown([NO_CURVE, *WEIGHT_CURVES], value=NO_CURVE, label=naming.label("Curve", "weight curve"),
                            elem_id=naming.id("ip_curve", "curve"), scale=2)  # fmt: skip
        fill = gr.Button(fill_label, size="sm", elem_id=naming.id("ip-weights-fill", "weights-fill"), scale=1)
        clear = gr.Button("Clear", size="sm", elem_id=naming.id("ip-weights-clear", "weights-clear"), scale=1)

    def architecture_of(values: tuple[Any, ...]) -> tuple[tuple[Any, ...], Any]:
        """(the shorthands' values, the chosen model's architecture) from the inputs, the picker last."""
        return (values[:-1], model.architecture(values[-1])) if model else (values, DEFAULT_ARCHITECTURE)

    def row_of(text: str, *values: Any) -> list[float] | None:
        shorthand_values, architecture = architecture_of(values)
        read = meaning(*shorthand_values)
        return None if read is None else grid_row(text, read[0], tuple(float(w) for w in read[1]), architecture)

    def weights_shown(text: str, *values: Any) -> Any:
        architecture = architecture_of(values)[1]
        row = row_of(text, *values)
        if row is None:
            return gr.skip()
        headers = weight_headers(architecture)
        return gr.Dataframe(value=[row], headers=headers, column_count=len(headers))

    initial = row_of("", *(control.value for control in [*shorthands, *picker]))
    grid = gr.Dataframe(
        [initial] if initial else None, headers=weight_headers(first), datatype="number", row_count=1,
        column_count=len(first.modules), interactive=True, type="array", show_label=False,
        elem_id=naming.id("ip-weights-grid", "weights-grid"),
        label=naming.label("Per-layer weights grid", "per-layer weights grid"),
    )  # fmt: skip
    text = make("ip_weights", max_lines=1, **naming.named("ip_weights", "weights", "per-layer weights"))

    grid.input(weights_from_grid, inputs=grid, outputs=text, **HELPER)
    for source in (text, *shorthands, *picker):
        source.change(weights_shown, inputs=[text, *shorthands, *picker], outputs=grid, **HELPER)

    def from_curve(name: str, *chosen: Any) -> str | Any:
        architecture = model.architecture(next(iter(chosen), None)) if model else DEFAULT_ARCHITECTURE
        return curve_text(name, architecture) or gr.skip()

    curve.input(from_curve, [curve, *picker], text, **HELPER)

    def from_shorthands(*values: Any) -> str | Any:
        row = row_of("", *values)
        return gr.skip() if row is None else floats_text(tuple(row))

    fill.click(from_shorthands, inputs=[*shorthands, *picker], outputs=text, **HELPER)
    clear.click(lambda: "", outputs=text, **HELPER)
    return text


def drawn_mask(drawing: Any) -> Image.Image | None:
    """The editor's drawing as a mask: white where painted white, black elsewhere (transparent included)."""
    composite = drawing.get("composite") if isinstance(drawing, dict) else None
    if composite is None:
        return None
    rgba = composite.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba).convert("L")


def append_drawn_mask(drawing: Any, masks: list[Any] | None) -> list[Any]:
    mask = drawn_mask(drawing)
    if mask is None:
        raise user_error("Draw a mask first: paint white where the reference should act.")
    kept = [item[0] if isinstance(item, (tuple, list)) else item for item in masks or []]
    return [*kept, mask]


def _second_unit(add: Callable[..., None], fields: dict[str, Any]) -> None:
    gr.Markdown(
        "**Second adapter**: its own references, variant, λ, layers and window, acting beside the first "
        "(λ 0: off). Its masks, one per reference of it, confine it to regions."
    )
    with gr.Row():
        fields["ip2_reference_images"] = gr.Gallery(
            label="Second adapter's reference image(s)", type="filepath", interactive=True, columns=4, height=150,
            object_fit="contain", elem_id="ip2_reference_images",
        )  # fmt: skip
        fields["ip2_masks"] = gr.Gallery(
            label="Second adapter's region masks", type="filepath", interactive=True, columns=4, height=150,
            object_fit="contain", elem_id="ip2_masks",
        )  # fmt: skip
    with gr.Row():
        add("ip2_scale", "ip2_variant")
    with gr.Row():
        add("ip2_start", "ip2_end")
    add("ip2_layers", max_lines=1)
    add("ip2_weights", max_lines=1)


def several_references(make: Make, naming: Naming) -> tuple[gr.Radio, gr.Textbox]:
    gr.Markdown("**Several references**")
    with gr.Row():
        combine = make("ip_combine", **naming.named("ip_combine", "combine", "several references"))
        weights = make("reference_weights", max_lines=1, placeholder="1, 0.5, …",
                       **naming.named("reference_weights", "reference-weights", "reference weights"))  # fmt: skip
    return combine, weights


def regions(naming: Naming) -> gr.Gallery:
    """One region mask per reference: uploaded, or drawn and added; returns the masks' gallery."""
    gr.Markdown(
        "**Regions**: one mask per reference, in their order (white: where it acts). With masks each "
        "reference attends on its own, and its weight above multiplies λ."
    )
    with gr.Row():
        masks = gr.Gallery(
            label=naming.label("Region masks", "region masks"), type="filepath", interactive=True, columns=4,
            height=150, object_fit="contain", elem_id=naming.id("reference_masks", "masks"),
        )  # fmt: skip
        with gr.Column():
            editor = gr.ImageEditor(
                label=naming.label(DRAW_MASK, "draw a mask"), type="pil", image_mode="RGBA",
                height=220, canvas_size=(DEFAULT_ARCHITECTURE.default_size,) * 2,
                elem_id=naming.id("mask-editor", "mask-editor"),
                brush=gr.Brush(colors=["#ffffff", "#000000"], default_color="#ffffff"),
            )  # fmt: skip
            add_mask = gr.Button(ADD_MASK, size="sm", elem_id=naming.id("add-mask", "add-mask"))
            refused = helper_box(naming.id("add-mask-error", "add-mask-error"))
    add_mask.click(said_beside_only(append_drawn_mask, ADD_MASK, 1), inputs=[editor, masks], outputs=[masks, refused],
                   **HELPER)  # fmt: skip
    return masks


def negative_reference(naming: Naming) -> gr.Image:
    return uc.image(
        label=naming.label("Negative reference image: the picture is steered away from it", "negative reference image"),
        type="filepath", image_mode=None, height=160, elem_id=naming.id("negative_reference", "negative"),
    )  # fmt: skip


def unit_options(make: Make, naming: Naming, shorthands: list[Any], meaning: Shorthands = _first_unit_shorthands,
                 fill_label: str = "From mask and stages",
                 model: ModelChoice | None = None) -> ReferenceOptions:  # fmt: skip
    """Everything of an IP-Adapter unit beyond its references, variant, λ, layers and window, in the page's order."""
    weights = layer_weights(make, naming, shorthands, meaning, fill_label, model)
    combine, reference_weights = several_references(make, naming)
    masks = regions(naming)
    return ReferenceOptions(weights, combine, reference_weights, masks, negative_reference(naming))


def reference_options(add: Callable[..., None], fields: dict[str, Any], model: ModelChoice | None = None) -> None:
    """The first unit's options (recorded in ``fields`` by API parameter) and the second adapter; ``model``:
    the base-model picker, whose choice the per-layer weights grid follows."""

    def make(name: str, **overrides: Any) -> Any:
        add(name, **overrides)
        return fields[name]

    title = "More reference options: per-layer weights, several references, regions, negative image, second adapter"
    with gr.Accordion(title, open=False, elem_id="reference-options"):
        shorthands = [fields["ip_layers"], *(fields[f"ip_stage_{stage}"] for stage in STAGE_NAMES)]
        options = unit_options(make, FIRST_UNIT, shorthands, model=model)
        fields["reference_masks"], fields["negative_reference"] = options.masks, options.negative
        _second_unit(add, fields)
