"""Small feedback gaps (issue 27, item 8), in Chromium: a helper button's refusal beside it, naming it
(the queued Generate-tab helpers and the unqueued "Add the drawing as the next mask"); the note Stop
leaves where the results were, read from the progress bar, in the page's language; and one steady count of
seconds during a run (Gradio's own timer, which restarted at each heartbeat, is hidden)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ipa_demo.ui.app import create_app, launch_options
from ipa_demo.ui.stop_note import stop_message

from .test_app import served
from .test_browser import playwright
from .test_browser_chinese import DESKTOP, DescribedEngine, app_url, open_page, shot  # noqa: F401 (fixtures)

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
            ("去噪 · 1.0 秒（总计） 7/20 步", "生成", "**已停止**：停在第 7 步（共 20 步），没有完成的图片。"),
        ]
        for text, button, note in cases:
            page.set_content(PROGRESS.format(text=text, button=button))
            assert page.evaluate(stop_message("#output-gallery")) == note
    finally:
        page.close()


class SlowEngine(DescribedEngine):
    """0.3 s a step: long enough to press Stop in the middle of a run."""

    def generate(self, settings: Any, *args: Any, on_step: Any = None, **kwargs: Any) -> Any:
        def slowly(done: int, total: int) -> None:
            time.sleep(0.3)
            if on_step:
                on_step(done, total)

        return super().generate(settings, *args, on_step=slowly, **kwargs)


@pytest.fixture(scope="module")
def slow_url() -> Iterator[str]:
    with served(create_app(SlowEngine(), with_examples=False), **launch_options()) as url:  # type: ignore[arg-type]
        yield url


@pytest.mark.parametrize(("locale", "pattern"), [("en-US", r"Stopped at step (\d+) of 30\."), ("zh-CN", r"停在第 (\d+) 步（共 30 步）")])
def test_stop_leaves_the_step_it_stopped_at_until_the_next_run(browser: Any, slow_url: str, locale: str,  # noqa: F811
                                                               pattern: str) -> None:  # fmt: skip
    page = open_page(browser, slow_url, DESKTOP, locale)
    try:
        page.locator("#ip_scale input[type=number]").fill("0")  # no reference needed
        page.locator("#ip_scale input[type=number]").press("Tab")
        page.locator("#generate-button").click()
        bar = "document.querySelector('#output-gallery').closest('.block').innerText"
        page.wait_for_function(f"() => /\\d+\\/30 (steps|步)/.test({bar})")
        if locale == "zh-CN":  # the bar speaks the page's language too
            assert "去噪" in page.evaluate(f"() => {bar}")
        page.locator("#stop-generate").click()
        note = page.locator("#generate-stopped")
        expect(note).to_contain_text(re.compile(pattern))
        expect(page.locator("#generate-button")).to_be_enabled()  # the run has ended ...
        page.wait_for_timeout(1000)
        step = int(re.search(pattern, note.inner_text()).group(1))  # ... and the note stayed
        assert 1 <= step < 30
        shot(page, f"stopped-{locale}")
        page.locator("#generate-button").click()
        expect(note).to_have_text("")  # the next run starts without it
        page.locator("#stop-generate").click()
    finally:
        page.close()


# Every 100 ms from the click until the button has been disabled and is back (or 30 s): the text shown over the gallery.
_SAMPLE_BAR = """async () => {
  const bar = () => document.querySelector('#output-gallery').closest('.block').innerText.replace(/\\s+/g, ' ');
  const button = document.querySelector('#generate-button'), texts = [], clicked = performance.now();
  let busy = false;
  button.click();
  while (!(busy && !button.disabled) && performance.now() - clicked < 30000) {
    busy ||= button.disabled;
    texts.push(bar());
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  return texts;
}"""
GRADIO_TIMER = re.compile(r"\|\s*\d+(?:\.\d)?s\b")  # "5/30 steps | 0.1s": Gradio's, restarted at each yield
TOTAL = re.compile(r"(\d+)/30 steps · (\d+\.\d) s in all")


def test_a_run_shows_one_steady_count_of_seconds(browser: Any, slow_url: str) -> None:  # noqa: F811
    """30 steps of 0.3 s span heartbeats (a yield every 3 s), each of which restarted Gradio's timer: the bar
    shows the steps and the seconds since the run began, which only grow, and no timer that restarts."""
    page = open_page(browser, slow_url, DESKTOP, "en-US")
    try:
        page.locator("#ip_scale input[type=number]").fill("0")
        page.locator("#ip_scale input[type=number]").press("Tab")
        texts = page.evaluate(_SAMPLE_BAR)
        stepping = [text for text in texts if TOTAL.search(text)]
        print(f"{len(stepping)} of {len(texts)} samples show the steps; first {stepping[:1]}, last {stepping[-1:]}")
        assert len(stepping) >= 0.8 * len(texts) and len(stepping) >= 20, texts
        first, last = texts.index(stepping[0]), len(texts) - texts[::-1].index(stepping[-1])
        restarting = [text for text in texts[first:last] if GRADIO_TIMER.search(text)]  # from the first step on
        print("before the steps:", texts[:first])
        assert not restarting, restarting[:5]
        seconds = [float(TOTAL.search(text).group(2)) for text in stepping]
        steps = [int(TOTAL.search(text).group(1)) for text in stepping]
        assert seconds == sorted(seconds) and steps == sorted(steps), list(zip(steps, seconds))
        assert seconds[-1] >= 6.0, seconds[-1]  # one count over the whole run, across the heartbeats
    finally:
        page.close()
