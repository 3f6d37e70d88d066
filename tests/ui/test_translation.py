"""The page's Chinese (issue 27, item 9): every English text the page shows has its zh-CN entry, the
browser gets translation keys in place of the texts, and a refusal beside a button is put into Chinese
only for a browser that asks for it."""

from __future__ import annotations

import json
import re
from typing import Any

import gradio as gr
import pytest

from ipa_demo.settings.declarations import SETTINGS
from ipa_demo.ui.app import create_app
from ipa_demo.ui.translation import (
    I18N,
    kept_as_written,
    localized,
    page_texts,
    wants_chinese,
)
from ipa_demo.ui.zh_cn import ZH_CN
from ipa_demo.ui.zh_cn_settings import SETTINGS_ZH

from .test_ui import FakeEngine

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def demo() -> gr.Blocks:
    return create_app(FakeEngine(), with_examples=True)  # type: ignore[arg-type]


def test_every_declared_setting_has_its_chinese_label_and_hint() -> None:
    missing = [setting.name for setting in SETTINGS if setting.name not in SETTINGS_ZH]
    assert not missing, f"add these settings to ui/zh_cn_settings.py: {missing}"
    for setting in SETTINGS:
        label, hint = SETTINGS_ZH[setting.name]
        assert HAN.search(hint), setting.name
        assert ZH_CN[setting.label] == label and ZH_CN[setting.help] == hint


def test_every_text_of_the_page_has_a_chinese_entry(demo: gr.Blocks) -> None:
    texts = list(dict.fromkeys(page_texts(demo)))
    assert len(texts) > 150  # labels, hints, buttons, tabs, Markdown and choices
    untranslated = [text[:80] for text in texts if not kept_as_written(text) and not HAN.search(ZH_CN.get(text, ""))]
    assert not untranslated


def test_a_new_text_without_chinese_is_caught() -> None:
    with gr.Blocks() as page:
        gr.Slider(1, 10, label="Brand-new setting", info="A hint nobody translated.")
        gr.Button("Generate")
    found = [text for text in page_texts(page) if text not in ZH_CN and not kept_as_written(text)]
    assert found == ["Brand-new setting", "A hint nobody translated."]


def _config_of(demo: gr.Blocks, elem_id: str) -> dict[str, Any]:
    components = demo.get_config_file()["components"]
    return next(component for component in components if component["props"].get("elem_id") == elem_id)["props"]


def _key(value: Any) -> str:
    """The translation key a config value carries (an I18nData, its dict, or its ``__i18n__`` text)."""
    if hasattr(value, "key"):
        return value.key
    text = str(value)
    assert text.startswith("__i18n__"), text
    return json.loads(text.removeprefix("__i18n__"))["key"]


def test_the_browser_gets_keys_and_the_server_keeps_its_english(demo: gr.Blocks) -> None:
    steps = _config_of(demo, "steps")
    assert _key(steps["label"]) == "Steps" and _key(steps["info"]).startswith("Denoising steps")
    assert _key(_config_of(demo, "generate-button")["value"]) == "Generate"
    assert I18N.translations_dict["zh-CN"]["Steps"] == "采样步数"
    # What Python reads (error messages name controls by it) stays English.
    assert next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "steps").label == "Steps"


@pytest.mark.parametrize(
    ("header", "chinese"),
    [("zh-CN,zh;q=0.9,en;q=0.8", True), ("zh", True), ("en-US,en;q=0.9,zh-CN;q=0.8", False), ("zh-TW", False), ("", False)],
)
def test_a_browser_that_puts_chinese_first_gets_chinese(header: str, chinese: bool) -> None:
    request = gr.Request(headers={"accept-language": header})
    assert wants_chinese(request) is chinese
    assert wants_chinese(None) is False  # an API call made without a page


def test_a_refusal_beside_the_button_in_chinese() -> None:
    english = "**Not started.** “采样步数”: at most 150 on this server, got 500"
    assert localized(english, chinese=False) == english
    assert localized(english, chinese=True) == "**未开始。** “采样步数”：本服务器最多 150，当前为 500"


def test_each_message_pattern_says_it_in_chinese() -> None:
    from ipa_demo.ui.zh_cn import MESSAGES

    for pattern, replacement in MESSAGES:  # a function replacement is given a match of two groups
        said = replacement if isinstance(replacement, str) else replacement(re.fullmatch(r"(\w+) (\w+)", "Steps 3"))
        assert HAN.search(said), pattern.pattern


def test_the_note_beside_a_control_is_chinese_for_the_page_and_english_for_an_api_caller(tmp_path) -> None:
    from ipa_demo.settings import Limits
    from ipa_demo.ui.handlers import Handlers
    from ipa_demo.ui.outputs import OutputStore

    from .test_ui import tiny_request

    handlers = Handlers(FakeEngine(), OutputStore(tmp_path), Limits())  # type: ignore[arg-type]
    values = tiny_request(steps=500)
    chinese = gr.Request(headers={"accept-language": "zh-CN,zh;q=0.9"})

    def note(request: gr.Request | None) -> str:
        return next(item["message"] for item in handlers.validate_generate(request, **values) if not item["is_valid"])

    assert note(None) == f"at most {Limits().max_steps} on this server, got 500"
    assert note(chinese) == f"本服务器最多 {Limits().max_steps}，当前为 500"


def test_the_progress_bar_in_chinese() -> None:
    from ipa_demo.ui.runner import Readout

    readout = Readout("Denoising", clock=lambda: 0.0)
    assert localized(readout.step(3, 20), chinese=True) == "去噪 · 3/20 步 · 0.0 秒（总计）"
    assert localized(readout.preparing(), chinese=True).startswith("准备中：")
    assert not re.search(r"[A-Za-z]{3,}", localized(readout.preparing(), chinese=True))
    assert localized(readout.step(3, 20), chinese=False) == readout.step(3, 20)


@pytest.mark.parametrize(
    ("overrides", "chinese"),
    [
        ({"ip_start": 0.6, "ip_end": 0.4}, "不能早于"),
        ({"canny_low": 200, "canny_high": 100, "controlnet": "canny"}, "不能低于"),
        ({"ip_scale": 0.5, "reference_weights": "1, 0.5"}, "每张参考图需要一个权重"),
        ({"ip_weights": "1, 2"}, "需要 16 个数"),
        ({"controlnet_units": [{"kind": "depth", "scale": 0.5}]}, "ControlNet 单元 2 图像：这个单元需要一张控制图"),
        ({"ip_units": [{"scale": 0.5}]}, "这个 IP-Adapter 单元需要一张参考图"),
        # a further unit's key, as the Chinese form labels that control
        ({"controlnet_units": [{"kind": "depth", "scale": 5, "image": "REF"}]}, "ControlNet 单元 2：强度：须在 0 到 2 之间"),
        ({"controlnet_units": [{"kind": "depth", "start": 0.8, "end": 0.2, "image": "REF"}]}, "ControlNet 单元 2：结束：不能早于"),
        ({"t2i_units": [{"kind": "canny", "factor": 3, "image": "REF"}]}, "T2I-Adapter 单元 2：作用步数比例：须在 0 到 1 之间"),
        ({"ip_units": [{"reference": ["REF"], "scale": 9}]}, "IP-Adapter 单元 3：λ：须在 0 到 3 之间"),
        ({"ip_units": [{"reference": ["REF"], "stage-down0": 7}]}, "IP-Adapter 单元 3：down0 权重：须在"),
        ({"ip_units": [{"reference": ["REF"], "layers": "01"}]}, "IP-Adapter 单元 3：层蒙版：须为每个注意力模块一个 0 或 1"),
        ({"ip_units": [{"reference": ["REF"], "reference-weight": "1, 2"}]}, "IP-Adapter 单元 3：参考图权重：每张参考图需要一个权重"),
        ({"ip_units": [{"reference": ["REF"], "weights": "1, 2"}]}, "IP-Adapter 单元 3：逐层权重：SD 1.5 需要 16 个数"),
    ],
)  # fmt: skip
def test_refusals_that_had_no_chinese_phrase_now_have_one(tmp_path, reference_path, overrides, chinese) -> None:
    from ipa_demo.settings import Limits
    from ipa_demo.ui.handlers import Handlers
    from ipa_demo.ui.outputs import OutputStore

    from .test_ui import tiny_request

    handlers = Handlers(FakeEngine(), OutputStore(tmp_path), Limits())  # type: ignore[arg-type]
    overrides = json.loads(json.dumps(overrides).replace('"REF"', json.dumps(reference_path)))  # the unit's images
    values = tiny_request(reference_images=[(reference_path, None)], **overrides)
    request = gr.Request(headers={"accept-language": "zh-CN,zh;q=0.9"})
    notes = [item["message"] for item in handlers.validate_generate(request, **values) if not item["is_valid"]]
    assert len(notes) == 1 and chinese in notes[0], notes
    assert not re.search(r"\b(?!IP\b|ControlNet\b|Adapter\b|Canny\b|SDXL\b|down\d)[A-Za-z]{3,}", notes[0]), notes[0]  # down0: a stage's name
    english = [item["message"] for item in handlers.validate_generate(None, **values) if not item["is_valid"]]
    assert not HAN.search(english[0]), english  # an API caller's stays English


@pytest.fixture
def reference_path(tmp_path) -> str:
    from PIL import Image

    path = tmp_path / "reference.png"
    Image.new("RGB", (64, 64), "blue").save(path)
    return str(path)


def test_explore_takes_a_choice_as_the_chinese_page_names_it() -> None:
    from ipa_demo.explore.axes import parse_axis
    from ipa_demo.ui.axis_picker import axis_text

    axis = parse_axis(axis_text("ip-preset", "全部，风格, composition"), "x_axis")
    assert [value.label for value in axis.values] == ["all", "style", "composition"]
    assert parse_axis(axis_text("ip-fit", "裁剪, 填充"), "x_axis").values[1].changes == {"ip_fit": "pad"}
    assert axis_text("prompt", "全部, a cat") == "prompt=全部, a cat"  # free text stays as typed
