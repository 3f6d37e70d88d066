""""Load settings from a PNG" says which settings came back and that the images did not (issue 27, item 8)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from PIL import Image

from ipa_demo.metadata import save_png
from ipa_demo.settings import GenerationSettings, Limits
from ipa_demo.settings.parameters import format_parameters, parse_parameters
from ipa_demo.settings.values import PARAMS
from ipa_demo.ui.handlers import Handlers
from ipa_demo.ui.outputs import OutputStore
from ipa_demo.ui.png_summary import NOT_IN_A_PNG, came_back

from .test_ui import FakeEngine


def test_the_settings_a_short_a1111_text_gives_are_listed_by_their_short_labels() -> None:
    parsed = parse_parameters("a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x768")
    assert came_back(parsed) == ["Prompt", "Steps", "CFG scale", "Sampler", "Width", "Height", "Seed"]


def test_ip_adapter_settings_are_listed_when_the_text_has_them() -> None:
    settings = GenerationSettings(prompt="a cat", negative_prompt="blurry")
    parsed = parse_parameters(format_parameters(settings, settings.seed, ip_used=True, img2img=False))
    found = came_back(parsed)
    assert {"Prompt", "Negative prompt", "λ (image prompt weight)", "IP-Adapter start", "Layer mask"} <= set(found)
    assert "Canny low" not in found and "Denoising strength" not in found  # not written without their feature


def test_loading_a_png_says_what_came_back_and_that_images_did_not(tmp_path: Path) -> None:
    handlers = Handlers(FakeEngine(), OutputStore(tmp_path / "out"), Limits())  # type: ignore[arg-type]
    settings = GenerationSettings(prompt="a cat")
    text = format_parameters(settings, settings.seed, ip_used=True, img2img=False)
    path = save_png(Image.new("RGB", (8, 8)), tmp_path / "made.png", text)
    shown = dict(zip([*PARAMS, "png_text"], handlers.load_png(str(path))))["png_text"]
    first, second, *_ = shown.split("\n")
    assert first.startswith("Loaded ") and "Prompt" in first and "Steps" in first
    assert second == NOT_IN_A_PNG and "Reference images are not stored in a PNG" in second
    assert shown.endswith(text)  # the text itself, below


def test_the_chinese_page_reads_the_summary_in_chinese() -> None:
    parsed = parse_parameters("a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x768")
    assert came_back(parsed, chinese=True) == ["提示词", "采样步数", "提示词引导系数", "采样方法", "宽度", "高度", "随机种子"]


CHINESE = gr.Request(headers={"accept-language": "zh-CN,zh;q=0.9"})
ENGLISH_WORD = re.compile(r"\b(?!PNG\b|LoRA\b)[A-Za-z]{3,}\b")  # names such as PNG and LoRA stay as written


class TwoModels:
    """The base-model side of an engine with its models: the PNG's model is not among them."""

    names = ("stable-diffusion-v1-5",)

    def matching(self, used: Any) -> None:
        return None


class EngineWithModels(FakeEngine):
    base_models = TwoModels()
    loras = type("Loras", (), {"paths": {}})()


def test_the_loaders_refusals_and_notes_are_chinese_for_the_chinese_page(tmp_path: Path) -> None:
    handlers = Handlers(EngineWithModels(), OutputStore(tmp_path / "out"), Limits())  # type: ignore[arg-type]
    not_png, plain = tmp_path / "notes.png", tmp_path / "plain.png"
    not_png.write_text("not a picture")
    Image.new("RGB", (8, 8)).save(plain)
    bad = save_png(Image.new("RGB", (8, 8)), tmp_path / "bad.png", "a cat\nNegative prompt: \nSteps: 2, Mask blur: 99")
    for path, english, chinese in ((not_png, "is not a PNG this app can read", "不是本应用能读取的 PNG"),
                                   (plain, "carries no generation parameters", "不含生成参数"),
                                   (bad, "cannot be used: Mask blur must be 0 to 64 pixels", "中的参数无法使用")):  # fmt: skip
        with pytest.raises(gr.Error, match=english):
            handlers.load_png(str(path))
        with pytest.raises(gr.Error) as refused:
            handlers.load_png(str(path), CHINESE)
        said = refused.value.message
        assert chinese in said and not ENGLISH_WORD.search(said.replace(path.name, "")), said
    text = "a cat <lora:ink:1>\nNegative prompt: \nSteps: 2, Seed: 1, Model: dreamshaper-8, Lora hashes: \"ink: 0123abcd\""
    made = save_png(Image.new("RGB", (8, 8)), tmp_path / "made.png", text)
    english_notes = handlers.load_png(str(made))[len(PARAMS)].split("\n\n")[0]
    assert "Note: the image was made with dreamshaper-8, which is not configured here." in english_notes
    chinese_notes = handlers.load_png(str(made), CHINESE)[len(PARAMS)].split("\n\n")[0]
    assert "这张图片是用 dreamshaper-8 生成的，本服务器没有配置它" in chinese_notes and "LoRA ink" in chinese_notes
    assert not ENGLISH_WORD.search(chinese_notes.replace("dreamshaper-8", "").replace("LoRA ink", "")), chinese_notes
