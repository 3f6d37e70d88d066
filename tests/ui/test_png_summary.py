""""Load settings from a PNG" says which settings came back and that the images did not (issue 27, item 8)."""

from __future__ import annotations

from pathlib import Path

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
