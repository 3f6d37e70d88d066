"""The input side of the app: one component per API parameter, laid out the way SD users expect.

``build_controls`` must be called inside a ``gr.Blocks`` context. It also wires the controls'
own private helper events: the layer toggles, the mask text and the preset stay in step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from ..architecture import Architecture
from ..architecture.layers import DEFAULT_ARCHITECTURE, MASK_PRESETS, STAGE_NAMES, STAGES
from ..architecture.lengths import MASK_LENGTHS
from ..settings import Limits
from ..settings.unit_names import UNIT_PARAMS
from ..settings.values import PARAMS, default_values
from . import components as uc
from .base_model import picker_choices
from .components import HELPER, control
from .editor_copy import COPY, copy_on_click
from .explainer import add_explainer, stage_title
from .fields import bits_from_mask, mask_from_bits, preset_of
from .layer_grid import FamilyGrid, family_grid, preset_mask, wire_families
from .reference_controls import reference_options
from .unit_controls import UnitSection, unit_section
from .weight_grid import ModelChoice

CUSTOM_PRESET = "custom"


@dataclass
class Controls:
    fields: dict[str, Any]  # API parameter name -> its component, in PARAMS order
    mask: gr.Textbox
    layer_toggles: list[gr.Checkbox]
    preset: gr.Radio
    png_file: gr.File
    png_text: gr.Textbox
    unit_sections: list[UnitSection] = field(default_factory=list)  # further units, a section per kind
    # The mask editor the user paints on; ``fields["mask_image"]`` is its hidden copy, what events read.
    mask_editor: gr.ImageEditor | None = None

    def shown(self, name: str) -> Any:
        """The component the user sees for an API parameter: what an event that sets a value writes."""
        return self.mask_editor if name == "mask_image" and self.mask_editor is not None else self.fields[name]

    @property
    def components(self) -> list[Any]:
        """The shown component of each API parameter, in PARAMS order (what restoring settings writes)."""
        return [self.shown(name) for name in PARAMS]

    def send_mask_on(self, button: gr.Button) -> None:
        """Each click of ``button`` copies the shown mask into the one its events read (see ``editor_copy``);
        call it before the button's other listeners."""
        if self.mask_editor is not None:
            copy_on_click(button, self.mask_editor, self.fields["mask_image"])


def _window(prefix: str, limits: Limits, values: dict[str, Any]) -> tuple[gr.Slider, gr.Slider]:
    with gr.Row():
        first = control(f"{prefix}_start", limits, values[f"{prefix}_start"])
        last = control(f"{prefix}_end", limits, values[f"{prefix}_end"])
    return first, last


def _layer_grid(
    limits: Limits, values: dict[str, Any], families: Sequence[Architecture]
) -> tuple[dict[str, gr.Slider], list[gr.Checkbox], Any, list[FamilyGrid]]:
    """One row per stage, from the UNet's input to its output: a toggle per layer, then the stage weight;
    SD 1.5's, and a grid of each other family the server runs (``layer_grid``), the first family's shown."""
    weights: dict[str, gr.Slider] = {}
    toggles: list[gr.Checkbox] = []
    bits = bits_from_mask(values["ip_layers"]) or []
    with gr.Column(elem_id="layer-grid"):
        add_explainer(families)
        with gr.Column(visible=families[0].family == DEFAULT_ARCHITECTURE.family) as sd15:
            gr.Markdown(
                "Where the reference counts: one row per stage of the UNet, in the order the picture passes "
                "them. Tick the layers that get the reference; the slider weighs the whole stage.",
                elem_classes=["grid-hint"],
            )
            for stage in STAGE_NAMES:
                with gr.Row(equal_height=True, elem_classes=["stage-row"]):
                    gr.Markdown(stage_title(stage), elem_classes=["stage-title"], min_width=90)
                    with gr.Row(elem_classes=["stage-toggles"]):
                        for index in STAGES[stage]:
                            toggles.append(
                                gr.Checkbox(
                                    value=bits[index],
                                    label=f"L{index}",
                                    elem_id=f"layer-{index}",
                                    container=False,
                                    min_width=56,
                                )
                            )
                    name = f"ip_stage_{stage}"
                    weights[name] = control(name, limits, values[name], show_label=False, info=None, min_width=160)
        others = [family_grid(family, values["ip_layers"], index == 0)
                  for index, family in enumerate(families) if family.family != DEFAULT_ARCHITECTURE.family]  # fmt: skip
    return weights, toggles, sd15, others


def build_controls(
    limits: Limits,
    first: gr.Column,
    settings: gr.Column,
    base_models: Sequence[str] = (),
    architectures: Mapping[str, Architecture] | None = None,
) -> Controls:
    """The prompt and references into ``first``, every other setting into ``settings`` (both already placed);
    ``base_models``: the engine's, by name; the picker shows when there are several; ``architectures``:
    each one's (the layer grid shows the selected model's modules; default: SD 1.5 for all)."""
    values = default_values()
    architectures = {name: architectures[name] for name in base_models} if architectures else {}
    families = list({architecture.family: architecture for architecture in architectures.values()}.values())
    families = families or [DEFAULT_ARCHITECTURE]
    fields: dict[str, Any] = {}

    def add(*names: str, **overrides: Any) -> None:
        for name in names:
            fields[name] = control(name, limits, values[name], **overrides)

    with first:  # what a newcomer fills in
        fields["base_model"] = control(
            "base_model", limits, base_models[0] if base_models else "",
            choices=picker_choices(base_models) or [("the app's own", "")], visible=len(base_models) > 1,
            info="One of the models this app was started with. Your choice, or a PNG you load, changes your requests only.",
        )  # fmt: skip
        add("prompt", lines=2, placeholder="a cat, oil painting")
        add("negative_prompt", lines=1)
        fields["reference_images"] = gr.Gallery(
            label="Reference image(s) — several are averaged unless set otherwise below",
            type="filepath",
            interactive=True,
            columns=4,
            height=170,
            object_fit="contain",
            elem_id="reference_images",
        )

    with settings:
        with gr.Accordion("IP-Adapter", open=True):
            with gr.Row():
                add("ip_scale", "ip_variant", "ip_fit")
            fields["ip_start"], fields["ip_end"] = _window("ip", limits, values)
            preset = uc.radio(
                [*MASK_PRESETS, CUSTOM_PRESET],
                value=preset_of(values["ip_layers"]),
                label="Layer preset",
                elem_id="ip_preset",
            )
            weights, toggles, sd15_grid, other_grids = _layer_grid(limits, values, families)
            fields.update(weights)
            add("ip_layers", max_lines=1)
            mask = fields["ip_layers"]
            fit_note = gr.Markdown("", elem_id="layer-fit-note")  # what the selected model cannot take

        model = ModelChoice(fields["base_model"], architectures)
        reference_options(add, fields, model)
        sections = [unit_section("ip", limits, model)]

        with gr.Accordion("Structure: ControlNet / T2I-Adapter", open=False):
            with gr.Row():
                fields["control_image"] = uc.image(
                    label="Control image", type="filepath", image_mode=None, height=200, elem_id="control_image"
                )
                with gr.Column():
                    add("control_is_map", "canny_low", "canny_high")
            with gr.Row():
                add("controlnet", "controlnet_scale", "guess_mode", "controlnet_soft")
            fields["controlnet_start"], fields["controlnet_end"] = _window("controlnet", limits, values)
            with gr.Row():
                add("t2i", "t2i_scale", "t2i_factor", "t2i_soft")
        sections += [unit_section(kind, limits) for kind in ("controlnet", "t2i")]
        fields.update({UNIT_PARAMS[section.kind]: section.parameter for section in sections})

        with gr.Accordion("img2img", open=False):  # and inpainting, with the mask editor below
            with gr.Row():
                fields["init_image"] = uc.image(
                    label="Init image (img2img when set)",
                    type="filepath",
                    image_mode=None,
                    height=200,
                    elem_id="init_image",
                )
                add("strength")
            mask_editor = inpainting_mask_editor(fields["init_image"])
            fields["mask_image"] = _mask_editor(visible=False)  # what events read: see ``editor_copy``

        with gr.Accordion("Reference-only", open=False):
            with gr.Row():
                add("ref_only", "ref_fidelity", "ref_weight")
            with gr.Row():
                fields["ref_start"], fields["ref_end"] = _window("ref", limits, values)
            add("ref_fast")

        with gr.Accordion("Sampling", open=True):
            with gr.Row():
                add("steps", "guidance", "scheduler")
            with gr.Row():
                add("width", "height", "num_images")
            with gr.Row(equal_height=True):
                add("seed", scale=4)
                random_seed = gr.Button("Random seed", scale=1, min_width=80, elem_id="random-seed")

        with gr.Accordion("Load settings from a PNG", open=False):
            png_file = gr.File(
                label="PNG made by this app or A1111", file_types=[".png"], type="filepath", elem_id="png-file"
            )
            png_text = gr.Textbox(label="Parameters found", lines=3, interactive=False, elem_id="png-text")

    controls = Controls(
        {name: fields[name] for name in PARAMS}, mask, toggles, preset, png_file, png_text, sections, mask_editor
    )
    _wire_mask(controls, architectures)
    if other_grids:
        wire_families(other_grids, sd15_grid, fields, fit_note, architectures)
    random_seed.click(lambda: -1, outputs=fields["seed"], **HELPER)
    return controls


def _mask_editor(**options: Any) -> gr.ImageEditor:
    return gr.ImageEditor(
        label="Inpainting mask: paint over what to redo (the init image is the canvas)",
        type="filepath",
        brush=gr.Brush(colors=["#ffffff"], default_size=24, color_mode="fixed"),
        eraser=gr.Eraser(default_size=24),
        transforms=(),
        sources=(),
        layers=False,
        height=300,
        **options,
    )


def inpainting_mask_editor(init_image: gr.Image) -> gr.ImageEditor:
    """Paint on the init image where it should be redone; an empty editor means plain img2img."""
    editor = _mask_editor(elem_id="mask_image")
    # Through a hidden editor: the output of a server event is asked for its value on every later status
    # message (see ``editor_copy``), and a shown editor answers by uploading its canvas anew.
    staged = _mask_editor(visible=False)
    changed = init_image.change(lambda path: path, inputs=init_image, outputs=staged, **HELPER)
    changed.then(None, js=COPY, inputs=staged, outputs=editor, **HELPER)
    return editor


def _wire_mask(controls: Controls, architectures: Mapping[str, Architecture]) -> None:
    """Toggles write the mask text; the text (from any source) redraws toggles and preset; a preset is the
    selected base model's (its own length)."""
    mask, toggles = controls.mask, controls.layer_toggles

    def from_toggles(*bits: bool) -> str:
        return mask_from_bits(bits)

    def to_toggles(text: str) -> list[Any]:
        bits = bits_from_mask(text)
        known = isinstance(text, str) and len(text) in MASK_LENGTHS and not set(text) - {"0", "1"}
        preset = (preset_of(text) or CUSTOM_PRESET) if known else gr.skip()
        return [*(bits or [gr.skip()] * len(toggles)), preset]

    def from_preset(name: str, base_model: str) -> Any:
        return preset_mask(name, base_model, architectures) or gr.skip()

    for toggle in toggles:
        toggle.input(from_toggles, inputs=toggles, outputs=mask, **HELPER)
    mask.change(to_toggles, inputs=mask, outputs=[*toggles, controls.preset], **HELPER)
    preset_inputs = [controls.preset, controls.fields["base_model"]]
    controls.preset.input(from_preset, inputs=preset_inputs, outputs=mask, **HELPER)
