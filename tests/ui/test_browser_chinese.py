"""The page in Chinese (issue 27, item 9), read in Chromium with the zh-CN locale: every visible text
node on each tab, with every accordion open, is Chinese or a name (a model, sampler, layer, unit, λ,
CLI flag or file name); an English browser still reads English; a refusal beside the button is Chinese.

Screenshots go to ``IPA_SCREENSHOTS`` when it is set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ipa_demo.metadata import save_png
from ipa_demo.settings import SettingsError
from ipa_demo.ui.app import create_app, launch_options

from .test_app import served
from .test_browser import PHONE, TIMEOUT_MS, playwright
from .test_ui import FakeEngine

DESKTOP = {"width": 1366, "height": 768}
TABS = ("generate", "inpaint", "compare", "explore")
OPEN_EVERY_ACCORDION = "document.querySelectorAll('button.label-wrap:not(.open)').forEach(b => b.click())"
# Every visible text node, and the placeholders; hidden ones (a closed tab, display: none) are not read.
VISIBLE_TEXTS = """() => {
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    const text = node.textContent.trim();
    if (!text || !element || element.closest('script, style, [aria-hidden="true"]')) continue;
    const box = element.getBoundingClientRect();
    if (box.width && box.height && element.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) texts.push(text);
  }
  for (const field of document.querySelectorAll('input[placeholder], textarea[placeholder]')) {
    if (field.checkVisibility() && field.placeholder.trim()) texts.push(field.placeholder.trim());
  }
  return texts;
}"""
# Names that stay as written on a Chinese page (as Chinese SD users write them) and the page's footer's.
NAMES = {
    "ipa_demo", "Stable", "Diffusion", "IP", "Adapter", "ControlNet", "T2I", "CLIP", "UNet", "CFG", "SD", "PNG",
    "API", "Gradio", "canny", "depth", "openpose", "attn", "adain", "DPM", "Karras", "Euler", "DDIM", "UniPC",
    "PNDM", "base", "light", "plus", "face", "full", "mid", "token", "zip", "json", "sweep", "InstantStyle",
    "Wang", "Ye", "et", "al", "ComfyUI", "A1111", "AUTOMATIC1111", "WebUI", "diffusers", "reference-only",
    "cpu", "IP-Adapter", "T2I-Adapter", "CLIP-I", "Canny", "CSV", "TSV",
    "SDXL", "Transformer",  # a model family, and the block kind Chinese SD users name in English
    "average", "concat", "all", "style", "composition", "each",  # API values, quoted after their Chinese
    "LoRA",
}
NAME_PATTERNS = re.compile(
    r"(?:down|up)\d|(?:down|up)_blocks\.\d|L\d+|[a-z]+\+[a-z]+|[a-z0-9]+(?:-[a-z0-9]+)+|--[a-z0-9-]+|[\w.-]+\.(?:png|json|zip|safetensors)"
)
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.+-]*[A-Za-z0-9]")


class OneBaseModel:
    """An engine's base models as the PNG loader asks them: one, which no PNG of these tests names."""

    names = ("stable-diffusion-v1-5",)

    def matching(self, used: Any) -> None:
        return None

    def check(self, name: str) -> None:
        return None

    def choice(self, name: str) -> Any:  # no folder to read a layout from: the page shows SD 1.5's grid
        raise SettingsError("base_model", "this fake has no model folders")


class DescribedEngine(FakeEngine):
    description = "cpu"
    base_models = OneBaseModel()  # so that a loaded PNG's notes on its models show
    loras = type("NoLoras", (), {"paths": {}})()


def english_words(text: str) -> list[str]:
    """The words of ``text`` that are neither Chinese nor a name."""
    return [word for word in WORD.findall(text) if word not in NAMES and not NAME_PATTERNS.fullmatch(word)]


def untranslated(page: Any) -> list[str]:
    """The visible texts, on each tab, that still read English."""
    found: list[str] = []
    for index, _ in enumerate(TABS):
        page.locator("#results button[role=tab]").nth(index).click()
        page.wait_for_timeout(300)
        found += [text for text in page.evaluate(VISIBLE_TEXTS) if english_words(text)]
    return list(dict.fromkeys(found))


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with served(create_app(DescribedEngine(), with_examples=True), **launch_options()) as url:  # type: ignore[arg-type]
        yield url


def open_page(browser: Any, url: str, viewport: dict[str, int], locale: str) -> Any:
    page = browser.new_page(viewport=viewport, locale=locale)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector("#generate-button")
    for _ in range(3):  # nested accordions show once their parent is open
        page.evaluate(OPEN_EVERY_ACCORDION)
        page.wait_for_timeout(300)
    return page


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("IPA_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_no_visible_english_on_the_chinese_page(browser: Any, app_url: str, width: str) -> None:
    page = open_page(browser, app_url, DESKTOP if width == "desktop" else PHONE, "zh-CN")
    try:
        assert page.locator("#generate-button").inner_text().strip() == "生成"
        left = untranslated(page)
        assert left == [], f"{len(left)} visible strings left in English: {left}"
        page.locator("#results button[role=tab]").nth(0).click()
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, f"zh-{width}")
    finally:
        page.close()


def test_the_english_page_stays_english(browser: Any, app_url: str) -> None:
    page = open_page(browser, app_url, DESKTOP, "en-US")
    try:
        assert page.locator("#generate-button").inner_text().strip() == "Generate"
        assert len(untranslated(page)) > 100  # the same reader finds the English page English
    finally:
        page.close()


def test_a_refusal_beside_generate_is_chinese(browser: Any, app_url: str) -> None:
    page = open_page(browser, app_url, DESKTOP, "zh-CN")
    try:
        steps = page.locator("#steps input[type=number]")
        steps.fill("500")
        steps.press("Tab")
        page.locator("#generate-button").click()
        box = page.locator("#generate-error")
        playwright.expect(box).to_contain_text("未开始")
        text = box.inner_text()
        assert "采样步数" in text and "500" in text and not english_words(text), text
        note = page.locator("#steps .validation-error")  # the note beside the control, too
        playwright.expect(note).to_contain_text("本服务器最多 150")
        shot(page, "zh-refusal")
    finally:
        page.close()


def test_the_png_loaders_toast_and_notes_are_chinese(browser: Any, app_url: str, tmp_path: Path) -> None:
    page = open_page(browser, app_url, DESKTOP, "zh-CN")
    try:
        plain = tmp_path / "plain.png"
        Image.new("RGB", (8, 8)).save(plain)
        page.locator("#png-file input[type=file]").set_input_files(str(plain))
        toast = page.locator(".toast-body").first
        playwright.expect(toast).to_contain_text("不含生成参数")
        said = toast.inner_text()
        assert not english_words(said.replace("plain.png", "")), said
        shot(page, "zh-png-toast")
        page.close()
        page = open_page(browser, app_url, DESKTOP, "zh-CN")  # a fresh loader: the refused file stays in the old one
        text = 'a cat <lora:ink-wash:1>\nNegative prompt: \nSteps: 2, Seed: 1, Model: dreamshaper-8, Mask blur: 6'
        made = save_png(Image.new("RGB", (8, 8)), tmp_path / "made.png", text)
        page.locator("#png-file input[type=file]").set_input_files(str(made))
        box = page.locator("#png-text textarea")
        playwright.expect(box).to_have_value(re.compile("注意"))
        head = box.input_value().split("\n\n")[0]  # the summary and its notes, before the PNG's own text
        assert "蒙版模糊" in head and "dreamshaper-8" in head and "ink-wash" in head, head
        assert not english_words(head), head
        page.get_by_role("tab", name="局部重绘").click()  # the Inpaint tab's Mask blur came back too
        playwright.expect(page.locator("#mask_blur input[type=number]")).to_have_value("6")
        shot(page, "zh-png-notes")
    finally:
        page.close()
