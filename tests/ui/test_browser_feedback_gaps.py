"""Small feedback gaps (issue 27, item 8), in Chromium: a helper button's refusal beside it, naming it
(the queued Generate-tab helpers and the unqueued "Add the drawing as the next mask"); the note Stop
leaves where the results were, read from the progress bar, in the page's language."""

from __future__ import annotations

from typing import Any

from ipa_demo.ui.stop_note import stop_message

from .test_browser import playwright
from .test_browser_chinese import DESKTOP, app_url, browser, open_page, shot  # noqa: F401 (fixtures)

expect = playwright.expect


def test_helper_refusals_are_said_beside_their_buttons(browser: Any, app_url: str) -> None:  # noqa: F811
    page = open_page(browser, app_url, DESKTOP, "en-US")
    try:
        page.locator("#reuse-seed").click()
        expect(page.locator("#helper-error p")).to_have_text("Reuse seed: Generate an image first.")
        page.locator("#use-as-init").click()
        expect(page.locator("#helper-error p")).to_have_text("Use as init image: Generate an image first.")
        page.locator("#add-mask").click()
        expect(page.locator("#add-mask-error p")).to_contain_text("Add the drawing as the next mask: Draw a mask first")
        shot(page, "helper-refusal")
    finally:
        page.close()


def test_the_chinese_page_says_them_in_chinese(browser: Any, app_url: str) -> None:  # noqa: F811
    page = open_page(browser, app_url, DESKTOP, "zh-CN")
    try:
        page.locator("#reuse-seed").click()
        expect(page.locator("#helper-error p")).to_have_text("复用种子：请先生成一张图片。")
    finally:
        page.close()


PROGRESS = """<div class="block"><div id="output-gallery"></div><div class="wrap"><span>{text}</span></div></div>
<button id="generate-button">{button}</button>"""


def test_the_stop_note_reads_the_step_from_the_bar(browser: Any) -> None:  # noqa: F811
    page = browser.new_page()
    try:
        cases = [
            ("Denoising · 3.1 s in all | 5/20 steps", "Generate", "**Stopped at step 5 of 20.** No image was finished."),
            ("Preparing: loading the models …", "Generate", "**Stopped** before the first step. No image was finished."),
            ("5/20 steps", "生成", "**已停止**：停在第 5 步（共 20 步），没有完成的图片。"),
        ]
        for text, button, note in cases:
            page.set_content(PROGRESS.format(text=text, button=button))
            assert page.evaluate(stop_message("#output-gallery")) == note
    finally:
        page.close()
