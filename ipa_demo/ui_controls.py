"""The input side of the app: one component per API parameter, laid out the way SD users expect.

``build_controls`` must be called inside a ``gr.Blocks`` context. It also wires the controls'
own private helper events: the 16 layer toggles, the mask text and the preset stay in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from . import ui_components as uc
from .layers import MASK_PRESETS, STAGE_NAMES, STAGES
from .schedulers import SCHEDULER_NAMES
from .settings import FIT_MODES, IP_VARIANTS, MAX_IP_SCALE, REFERENCE_MODES, STRUCTURE_KINDS, Limits
from .ui_explainer import add_explainer, stage_title
from .ui_fields import PARAMS, STAGE_PARAMS, bits_from_mask, default_values, mask_from_bits, preset_of

CUSTOM_PRESET = "custom"
HELPER: dict[str, Any] = {"queue": False, "show_progress": "hidden", "api_visibility": "private"}


@dataclass
class Controls:
    fields: dict[str, Any]  # API parameter name -> its component, in PARAMS order
    mask: gr.Textbox
    layer_toggles: list[gr.Checkbox]
    preset: gr.Radio
    png_file: gr.File
    png_text: gr.Textbox

    @property
    def components(self) -> list[Any]:
        return [self.fields[name] for name in PARAMS]


def _window(prefix: str, label: str, start: float, end: float) -> tuple[gr.Slider, gr.Slider]:
    with gr.Row():
        first = uc.slider(0.0, 1.0, value=start, step=0.05, label=f"{label} start", elem_id=f"{prefix}_start")
        last = uc.slider(0.0, 1.0, value=end, step=0.05, label=f"{label} end", elem_id=f"{prefix}_end")
    return first, last


def _layer_grid(values: dict[str, Any]) -> tuple[dict[str, gr.Slider], list[gr.Checkbox]]:
    """One row per stage, from the UNet's input to its output: a toggle per layer, then the stage weight."""
    weights: dict[str, gr.Slider] = {}
    toggles: list[gr.Checkbox] = []
    bits = bits_from_mask(values["ip_layers"]) or []
    with gr.Column(elem_id="layer-grid"):
        add_explainer()
        gr.Markdown(
            "Where the reference counts: one row per stage of the UNet, in the order the picture passes "
            "them. Tick the layers that get the reference; the slider weighs the whole stage.",
            elem_classes=["grid-hint"],
        )
        for stage, param in zip(STAGE_NAMES, STAGE_PARAMS):
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
                weights[param] = uc.slider(
                    0.0, MAX_IP_SCALE, value=values[param], step=0.05, label=f"{stage} weight", show_label=False,
                    elem_id=param, min_width=160,
                )  # fmt: skip
    return weights, toggles


def build_controls(limits: Limits) -> Controls:
    values = default_values()
    fields: dict[str, Any] = {}
    fields["prompt"] = gr.Textbox("", label="Prompt", lines=2, placeholder="a cat, oil painting", elem_id="prompt")
    fields["negative_prompt"] = gr.Textbox("", label="Negative prompt", lines=1, elem_id="negative_prompt")
    fields["reference_images"] = gr.Gallery(
        label="Reference image(s) — several are averaged",
        type="filepath",
        interactive=True,
        columns=4,
        height=170,
        object_fit="contain",
        elem_id="reference_images",
    )

    with gr.Accordion("IP-Adapter", open=True):
        with gr.Row():
            fields["ip_scale"] = uc.slider(
                0.0,
                MAX_IP_SCALE,
                value=values["ip_scale"],
                step=0.05,
                label="λ (image prompt weight)",
                elem_id="ip_scale",
            )
            fields["ip_variant"] = uc.dropdown(list(IP_VARIANTS), value=values["ip_variant"], label="Variant")
            fields["ip_fit"] = uc.radio(list(FIT_MODES), value=values["ip_fit"], label="Non-square references")
        fields["ip_start"], fields["ip_end"] = _window("ip", "IP", values["ip_start"], values["ip_end"])
        preset = uc.radio(
            [*MASK_PRESETS, CUSTOM_PRESET],
            value=preset_of(values["ip_layers"]),
            label="Layer preset",
            elem_id="ip_preset",
        )
        weights, toggles = _layer_grid(values)
        fields.update(weights)
        fields["ip_layers"] = mask = gr.Textbox(
            value=values["ip_layers"],
            label="Layer mask: 16 bits in execution order (down0 … up3)",
            max_lines=1,
            elem_id="ip_layers",
        )

    with gr.Accordion("Structure: ControlNet / T2I-Adapter", open=False):
        with gr.Row():
            fields["control_image"] = uc.image(
                label="Control image", type="filepath", image_mode=None, height=200, elem_id="control_image"
            )
            with gr.Column():
                fields["control_is_map"] = gr.Checkbox(
                    value=values["control_is_map"], label="Already a canny/depth map (skip preprocessing)"
                )
                fields["canny_low"] = uc.slider(0, 255, value=values["canny_low"], step=1, label="Canny low")
                fields["canny_high"] = uc.slider(0, 255, value=values["canny_high"], step=1, label="Canny high")
        with gr.Row():
            fields["controlnet"] = uc.radio(
                list(STRUCTURE_KINDS), value=values["controlnet"], label="ControlNet", elem_id="controlnet"
            )
            fields["controlnet_scale"] = uc.slider(
                0.0, 2.0, value=values["controlnet_scale"], step=0.05, label="ControlNet scale"
            )
            fields["guess_mode"] = gr.Checkbox(value=values["guess_mode"], label="Guess mode")
        fields["controlnet_start"], fields["controlnet_end"] = _window(
            "controlnet", "ControlNet", values["controlnet_start"], values["controlnet_end"]
        )
        with gr.Row():
            fields["t2i"] = uc.radio(list(STRUCTURE_KINDS), value=values["t2i"], label="T2I-Adapter")
            fields["t2i_scale"] = uc.slider(0.0, 2.0, value=values["t2i_scale"], step=0.05, label="T2I scale")
            fields["t2i_factor"] = uc.slider(
                0.0, 1.0, value=values["t2i_factor"], step=0.05, label="T2I factor (share of steps)"
            )

    with gr.Accordion("img2img", open=False), gr.Row():
        fields["init_image"] = uc.image(
            label="Init image (img2img when set)", type="filepath", image_mode=None, height=200, elem_id="init_image"
        )
        fields["strength"] = uc.slider(0.05, 1.0, value=values["strength"], step=0.05, label="Denoising strength")

    with gr.Accordion("Reference-only", open=False):
        with gr.Row():
            fields["ref_only"] = uc.radio(list(REFERENCE_MODES), value=values["ref_only"], label="Mode")
            fields["ref_fidelity"] = uc.slider(
                0.0, 1.0, value=values["ref_fidelity"], step=0.05, label="Style fidelity"
            )
            fields["ref_weight"] = uc.slider(0.0, 1.0, value=values["ref_weight"], step=0.05, label="Weight")
        with gr.Row():
            fields["ref_start"], fields["ref_end"] = _window("ref", "Reference", values["ref_start"], values["ref_end"])
        fields["ref_fast"] = gr.Checkbox(
            value=values["ref_fast"], label="Fast: the reference shares the UNet pass (faster, approximate)"
        )

    with gr.Accordion("Sampling", open=True):
        with gr.Row():
            fields["steps"] = uc.slider(
                1, limits.max_steps, value=values["steps"], step=1, label="Steps", elem_id="steps"
            )
            fields["guidance"] = uc.slider(
                1.0, 30.0, value=values["guidance"], step=0.5, label="CFG scale", elem_id="guidance"
            )
            fields["scheduler"] = uc.dropdown(list(SCHEDULER_NAMES), value=values["scheduler"], label="Sampler")
        with gr.Row():
            fields["width"] = uc.slider(
                64, limits.max_side, value=values["width"], step=8, label="Width", elem_id="width"
            )
            fields["height"] = uc.slider(
                64, limits.max_side, value=values["height"], step=8, label="Height", elem_id="height"
            )
            fields["num_images"] = uc.slider(
                1, limits.max_images, value=values["num_images"], step=1, label="Images", elem_id="num_images"
            )
        with gr.Row(equal_height=True):
            fields["seed"] = gr.Number(
                value=values["seed"], precision=0, label="Seed (-1: random)", elem_id="seed", scale=4
            )
            random_seed = gr.Button("Random seed", scale=1, min_width=80, elem_id="random-seed")

    with gr.Accordion("Load settings from a PNG", open=False):
        png_file = gr.File(
            label="PNG made by this app or A1111", file_types=[".png"], type="filepath", elem_id="png-file"
        )
        png_text = gr.Textbox(label="Parameters found", lines=3, interactive=False, elem_id="png-text")

    controls = Controls({name: fields[name] for name in PARAMS}, mask, toggles, preset, png_file, png_text)
    _wire_mask(controls)
    random_seed.click(lambda: -1, outputs=fields["seed"], **HELPER)
    return controls


def _wire_mask(controls: Controls) -> None:
    """Toggles write the mask text; the text (from any source) redraws toggles and preset."""
    mask, toggles = controls.mask, controls.layer_toggles

    def from_toggles(*bits: bool) -> str:
        return mask_from_bits(bits)

    def to_toggles(text: str) -> list[Any]:
        bits = bits_from_mask(text)
        if bits is None:
            return [gr.skip()] * (len(toggles) + 1)
        return [*bits, preset_of(text) or CUSTOM_PRESET]

    def from_preset(name: str) -> Any:
        return MASK_PRESETS.get(name, gr.skip())

    for toggle in toggles:
        toggle.input(from_toggles, inputs=toggles, outputs=mask, **HELPER)
    mask.change(to_toggles, inputs=mask, outputs=[*toggles, controls.preset], **HELPER)
    controls.preset.input(from_preset, inputs=controls.preset, outputs=mask, **HELPER)
