"""The page's further units: the forms' values become the API parameter, and a PNG's units the forms."""

from __future__ import annotations

import gradio as gr

from ipa_demo.settings.unit_keys import MASK_PRESETS
from ipa_demo.settings import Limits
from ipa_demo.settings import ControlNetSettings, GenerationSettings, IPAdapterSettings, T2IAdapterSettings
from ipa_demo.settings.values import settings_from_values, values_from_settings
from ipa_demo.ui.unit_controls import unit_section

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
    assert settings.more_controlnet_units == (ControlNetSettings("depth", 0.7, 0.0, 0.8), ControlNetSettings("canny", 0.5, 0.1, 1.0))


def test_an_ip_form_sends_its_references_and_preset() -> None:
    section = _sections()["ip"]
    gallery = [("/up/face.png", None), ("/up/style.png", "a caption")]
    units = section.assemble(1, gallery, "plus-face", "style", 0.6, 0.0, 0.9, None, "base", "all", 0.7, 0.0, 1.0)
    assert units == [{"reference": [{"path": "/up/face.png", "meta": META}, {"path": "/up/style.png", "meta": META}],
                      "variant": "plus-face", "preset": "style", "scale": 0.6, "start": 0.0, "end": 0.9}]  # fmt: skip
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
