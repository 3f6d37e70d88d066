"""The page's further units: the forms' values become the API parameter, and a PNG's units the forms."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from ipa_demo.settings.unit_keys import MASK_PRESETS
from ipa_demo.settings import Limits
from ipa_demo.settings import ControlNetSettings, GenerationSettings, IPAdapterSettings, T2IAdapterSettings
from ipa_demo.architecture.layers import WEIGHT_CURVES
from ipa_demo.settings.values import default_values, floats_text, settings_from_values, values_from_settings
from ipa_demo.ui.app import create_app
from ipa_demo.ui.unit_controls import unit_section

from .test_ui import FakeEngine

META = {"_type": "gradio.FileData"}


def _sections(max_units: int = 4):
    with gr.Blocks():
        return {kind: unit_section(kind, Limits(max_units=max_units)) for kind in ("ip", "controlnet", "t2i")}


def test_as_many_forms_as_the_server_takes_after_the_first_units() -> None:
    sections = _sections(4)
    assert [len(sections[kind].forms) for kind in ("ip", "controlnet", "t2i")] == [2, 3, 3]
    assert [form.number for form in sections["controlnet"].forms] == [2, 3, 4]
    assert len(_sections(1)["controlnet"].forms) == 0


def test_the_shown_forms_become_the_parameter_files_as_gradio_file_values() -> None:
    section = _sections()["controlnet"]
    first = ["depth", "/up/room.png", False, None, 0.7, 0.0, 0.8]
    second = ["canny", "/up/edges.png", True, "/up/left.png", 0.5, 0.1, 1.0]
    third = ["openpose", None, False, None, 1.0, 0.0, 1.0]
    units = section.assemble(2, *first, *second, *third)  # the third form is hidden: not sent
    assert units == [
        {"kind": "depth", "image": {"path": "/up/room.png", "meta": META}, "scale": 0.7, "start": 0.0, "end": 0.8},
        {"kind": "canny", "map": {"path": "/up/edges.png", "meta": META}, "mask": {"path": "/up/left.png", "meta": META},
         "scale": 0.5, "start": 0.1, "end": 1.0},
    ]  # fmt: skip
    values = {**values_from_settings(GenerationSettings(prompt="")), "controlnet_units": units}
    settings = settings_from_values(values, 0)
    assert settings.more_controlnet_units == (ControlNetSettings("depth", 0.7, 0.0, 0.8),
                                              ControlNetSettings("canny", 0.5, 0.1, 1.0, is_map=True))  # fmt: skip


UNTOUCHED_IP_FORM = [None, "base", "all", 0.7, 0.0, 1.0, "", "average", "", None, None]


def test_an_ip_form_sends_its_references_and_preset() -> None:
    section = _sections()["ip"]
    gallery = [("/up/face.png", None), ("/up/style.png", "a caption")]
    units = section.assemble(1, gallery, "plus-face", "style", 0.6, 0.0, 0.9, "", "average", " ", None, None,
                             *UNTOUCHED_IP_FORM)  # fmt: skip
    assert units == [{"reference": [{"path": "/up/face.png", "meta": META}, {"path": "/up/style.png", "meta": META}],
                      "variant": "plus-face", "preset": "style", "scale": 0.6, "start": 0.0, "end": 0.9,
                      "combine": "average"}]  # fmt: skip
    settings = settings_from_values({**values_from_settings(GenerationSettings(prompt="")), "ip_units": units}, 0)
    assert settings.more_ip_units == (IPAdapterSettings(scale=0.6, variant="plus-face", mask=MASK_PRESETS["style"], end=0.9),)


def test_a_pngs_units_fill_the_forms_and_show_them() -> None:
    section = _sections()["t2i"]
    settings = GenerationSettings(prompt="", more_t2i_units=(T2IAdapterSettings("depth", 0.4, 0.5),))
    restored = section.restore(values_from_settings(settings)["t2i_units"])
    count, *visible = restored[: 1 + len(section.forms)]
    assert count == 1 and [update["visible"] for update in visible] == [True, False, False]
    values = restored[1 + len(section.forms) + 2 :]
    assert values[:5] == ["depth", None, False, 0.4, 0.5]


def test_a_pngs_ip_unit_fills_every_field_of_its_form() -> None:
    section = _sections()["ip"]
    unit = IPAdapterSettings(scale=1.2, variant="plus", mask=MASK_PRESETS["composition"], start=0.1, end=0.8,
                             layer_weights=tuple(index / 10 for index in range(16)), reference_weights=(1.0, 0.5),
                             combine="concat")  # fmt: skip
    restored = section.restore(values_from_settings(GenerationSettings(prompt="", more_ip_units=(unit,)))["ip_units"])
    values = restored[1 + len(section.forms) + 2 :][: len(section.forms[0].inputs)]
    assert values == [None, "plus", "composition", 1.2, 0.1, 0.8, "0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, "
                      "1.1, 1.2, 1.3, 1.4, 1.5", "concat", "1, 0.5", None, None]  # fmt: skip
    again = section.assemble(1, *values, *UNTOUCHED_IP_FORM)
    settings = settings_from_values({**values_from_settings(GenerationSettings(prompt="")), "ip_units": again}, 0)
    assert settings.more_ip_units == (unit,)


def _event(demo: gr.Blocks, trigger: Any, output: Any) -> Callable[..., Any]:
    """The function of the app's own event from ``trigger`` (a component) to ``output``."""
    for fn in demo.fns.values():
        if output in fn.outputs and any(block_id == trigger._id for block_id, _ in fn.targets):
            return fn.fn
    raise AssertionError(f"no event from {trigger.elem_id} to {output.elem_id}")


def test_every_field_of_a_further_ip_unit_reaches_the_engine(tmp_path: Path) -> None:
    """A user fills IP-Adapter unit 3 on the page: the app's own events make the parameter, Generate the request."""
    engine = FakeEngine()
    demo = create_app(engine, limits=Limits(max_units=3), with_examples=False)  # type: ignore[arg-type]
    by_id = {block.elem_id: block for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    paths = {}
    for name, colour in (("face", (200, 150, 120)), ("style", (20, 40, 200)), ("away", (0, 90, 0)), ("left", (255, 255, 255))):
        paths[name] = str(tmp_path / f"{name}.png")
        Image.new("RGB", (64, 64), colour).save(paths[name])
    unit = "ip-unit-3"
    weights = by_id[f"{unit}-weights"]
    curve_text = _event(demo, by_id[f"{unit}-curve"], weights)("ease in")  # the curve fills the weights' text
    assert curve_text == floats_text(WEIGHT_CURVES["ease in"])
    drawing = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    drawing.paste((255, 255, 255, 255), (32, 0, 64, 64))
    masks, note = _event(demo, by_id[f"{unit}-add-mask"], by_id[f"{unit}-masks"])({"composite": drawing}, [paths["left"]])
    assert len(masks) == 2 and note["visible"] is False  # the drawn mask comes after the uploaded one
    drawn = tmp_path / "drawn.png"
    masks[1].save(drawn)
    form = {"references": [(paths["face"], None), (paths["style"], None)], "variant": "plus", "preset": "style",
            "scale": 0.6, "start": 0.1, "end": 0.9, "weights": curve_text, "combine": "concat",
            "reference-weights": "1, 0.5", "masks": [(paths["left"], None), (str(drawn), None)],
            "negative": paths["away"]}  # fmt: skip
    section_inputs = next(fn.inputs for fn in demo.fns.values() if list(fn.outputs) == [by_id["ip_units"]])
    values = [1] + [form[block.elem_id.removeprefix(f"{unit}-")] for block in section_inputs[1:]]
    units = _event(demo, by_id[f"{unit}-scale"], by_id["ip_units"])(*values)

    generate = next(fn.fn for fn in demo.fns.values() if fn.api_name == "generate")
    request = {**default_values(), "prompt": "a cat", "steps": 2, "width": 64, "height": 64, "seed": 3, "ip_scale": 0.0}
    outputs = list(generate(**{**request, "ip_units": units}))
    assert outputs[-1][-2] is not None  # the gallery's answer came
    settings, images = engine.last_units
    assert settings.more_ip_units == (IPAdapterSettings(
        scale=0.6, variant="plus", mask=MASK_PRESETS["style"], start=0.1, end=0.9,
        layer_weights=WEIGHT_CURVES["ease in"], reference_weights=(1.0, 0.5), combine="concat"),)  # fmt: skip
    (given,) = images.ip
    assert [image.getpixel((0, 0)) for image in given.references] == [(200, 150, 120), (20, 40, 200)]
    assert [(mask.getpixel((0, 0)), mask.getpixel((63, 0))) for mask in given.masks] == [(255, 255), (0, 255)]
    assert given.negative is not None and given.negative.getpixel((0, 0)) == (0, 90, 0)


def test_a_pngs_ready_map_unit_ticks_the_forms_map_box_and_keeps_it() -> None:
    section = _sections()["controlnet"]
    settings = GenerationSettings(prompt="", more_controlnet_units=(ControlNetSettings("depth", 0.4, is_map=True),))
    restored = section.restore(values_from_settings(settings)["controlnet_units"])
    values = restored[1 + len(section.forms) + 2 :][:7]
    assert values == ["depth", None, True, None, 0.4, 0.0, 1.0]
    units = section.assemble(1, *values, *[None] * 14)
    read = settings_from_values({**values_from_settings(GenerationSettings(prompt="")), "controlnet_units": units}, 0)
    assert read.more_controlnet_units == settings.more_controlnet_units
