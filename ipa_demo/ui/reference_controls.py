"""The reference options a one-reference user never needs, in one closed accordion.

Per-layer weights (a grid, one per layer, filled from a curve or from the layer mask and stage weights);
how several references combine and their weights; region masks (uploaded or drawn); the negative
reference image; a second adapter unit.
``add`` is ``build_controls``' own: it makes a declared setting's control and records it by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr
from PIL import Image

from ..architecture.layers import (
    DEFAULT_ARCHITECTURE,
    NUM_LAYERS,
    STAGE_NAMES,
    STAGE_OF_LAYER,
    WEIGHT_CURVES,
    weights_from_mask,
)
from ..settings import SettingsError
from ..settings.values import floats, floats_text
from . import components as uc
from .components import HELPER
from .errors import user_error
from .fields import bits_from_mask
from .helper_errors import helper_box, said_beside_only

WEIGHT_HEADERS = [f"L{index} {STAGE_OF_LAYER[index]}" for index in range(NUM_LAYERS)]
NO_CURVE = "—"
ADD_MASK = "Add the drawing as the next mask"


def shown_weights(text: str, mask: str, *stage_weights: float) -> list[list[float]] | Any:
    """The grid's one row: the weights typed, else the ones the mask and stage weights stand for."""
    try:
        weights = floats(text, "ip_weights")
    except SettingsError:
        return gr.skip()
    if not weights:
        if bits_from_mask(mask) is None or len(stage_weights) != len(STAGE_NAMES):
            return gr.skip()
        weights = weights_from_mask(mask, tuple(float(weight) for weight in stage_weights))
    if len(weights) != NUM_LAYERS:
        return gr.skip()
    return [list(weights)]


def weights_from_grid(table: Any) -> str | Any:
    """The grid's row as the weights' text; a cell that is not a number leaves the text as it was."""
    rows = table.values.tolist() if hasattr(table, "values") else table
    try:
        return floats_text(tuple(float(cell) for cell in rows[0]))
    except (TypeError, ValueError, IndexError):
        return gr.skip()


def _layer_weights(add: Callable[..., None], fields: dict[str, Any]) -> None:
    gr.Markdown("**Per-layer weights**: one number per layer (0–3), multiplying λ; empty: the mask × stage weights.")
    with gr.Row(equal_height=True):
        curve = uc.dropdown([NO_CURVE, *WEIGHT_CURVES], value=NO_CURVE, label="Curve", elem_id="ip_curve", scale=2)
        fill = gr.Button("From mask and stages", size="sm", elem_id="ip-weights-fill", scale=1)
        clear = gr.Button("Clear", size="sm", elem_id="ip-weights-clear", scale=1)
    shorthands = [fields["ip_layers"], *(fields[f"ip_stage_{stage}"] for stage in STAGE_NAMES)]
    grid = gr.Dataframe(
        shown_weights("", *(control.value for control in shorthands)),
        headers=WEIGHT_HEADERS, datatype="number", row_count=1, column_count=NUM_LAYERS, interactive=True,
        type="array", elem_id="ip-weights-grid", show_label=False,
    )  # fmt: skip
    add("ip_weights", max_lines=1)
    text = fields["ip_weights"]

    grid.input(weights_from_grid, inputs=grid, outputs=text, **HELPER)
    for source in (text, *shorthands):
        source.change(shown_weights, inputs=[text, *shorthands], outputs=grid, **HELPER)
    curve.input(lambda name: floats_text(WEIGHT_CURVES.get(name, ())) or gr.skip(), curve, text, **HELPER)

    def from_shorthands(mask: str, *stage_weights: float) -> str | Any:
        row = shown_weights("", mask, *stage_weights)
        return floats_text(tuple(row[0])) if isinstance(row, list) else row

    fill.click(from_shorthands, inputs=shorthands, outputs=text, **HELPER)
    clear.click(lambda: "", outputs=text, **HELPER)


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


def _regions(fields: dict[str, Any]) -> None:
    gr.Markdown(
        "**Regions**: one mask per reference, in their order (white: where it acts). With masks each "
        "reference attends on its own, and its weight above multiplies λ."
    )
    with gr.Row():
        fields["reference_masks"] = gr.Gallery(
            label="Region masks", type="filepath", interactive=True, columns=4, height=150, object_fit="contain",
            elem_id="reference_masks",
        )  # fmt: skip
        with gr.Column():
            editor = gr.ImageEditor(
                label="Draw a mask (paint white where the reference acts)", type="pil", image_mode="RGBA",
                height=220, canvas_size=(DEFAULT_ARCHITECTURE.default_size,) * 2, elem_id="mask-editor",
                brush=gr.Brush(colors=["#ffffff", "#000000"], default_color="#ffffff"),
            )  # fmt: skip
            add_mask = gr.Button(ADD_MASK, size="sm", elem_id="add-mask")
            refused = helper_box("add-mask-error")
    masks = fields["reference_masks"]
    add_mask.click(said_beside_only(append_drawn_mask, ADD_MASK, 1), inputs=[editor, masks], outputs=[masks, refused],
                   **HELPER)  # fmt: skip


def reference_options(add: Callable[..., None], fields: dict[str, Any]) -> None:
    title = "More reference options: per-layer weights, several references, regions, negative image, second adapter"
    with gr.Accordion(title, open=False, elem_id="reference-options"):
        _layer_weights(add, fields)
        gr.Markdown("**Several references**")
        with gr.Row():
            add("ip_combine")
            add("reference_weights", max_lines=1, placeholder="1, 0.5, …")
        _regions(fields)
        fields["negative_reference"] = uc.image(
            label="Negative reference image: the picture is steered away from it",
            type="filepath", image_mode=None, height=160, elem_id="negative_reference",
        )  # fmt: skip
        _second_unit(add, fields)
