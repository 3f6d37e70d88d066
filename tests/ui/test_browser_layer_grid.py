"""In a real browser: picking an SDXL base model shows SDXL's 11-module grid, a tick writes an 11-bit mask, and a
typed SD 1.5 mask stays as typed with a note beside it saying what SDXL takes (no silent change)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ipa_demo.settings import Limits
from ipa_demo.ui.app import create_app, launch_options

from .test_app import served
from .test_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, playwright
from .test_layer_grid import two_family_engine

expect = playwright.expect
SCREENSHOTS = Path(tempfile.gettempdir()) / "ipa-demo-layer-grid"
SCREENSHOTS.mkdir(exist_ok=True)


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    demo = create_app(two_family_engine("sd15-model"), limits=Limits(), with_examples=False)
    with served(demo, **launch_options()) as url, playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        opened = browser.new_page(viewport={"width": 1366, "height": 900})
        opened.set_default_timeout(TIMEOUT_MS // 3)
        opened.goto(url)
        opened.wait_for_selector("#generate-button")
        yield opened
        browser.close()


def test_switching_to_sdxl_shows_its_grid_and_keeps_the_typed_mask(page: Any) -> None:
    mask = page.locator("#ip_layers input")
    expect(page.locator("#layer-grid-sdxl")).to_be_hidden()
    mask.fill("1" * 15 + "0")
    mask.press("Tab")
    page.locator("#base_model input").click()
    page.get_by_role("option", name="sdxl-model").click()
    expect(page.locator("#layer-grid-sdxl")).to_be_visible()
    expect(page.locator("#layer-fit-note")).to_contain_text("The layer mask has 16 bits; SDXL takes 11")
    expect(mask).to_have_value("1" * 15 + "0")  # not rewritten
    page.locator("#ip_preset").get_by_text("composition", exact=True).click()
    expect(mask).to_have_value("00010000000")  # the selected model's preset, in its length
    expect(page.locator("#sdxl-layer-3 input")).to_be_checked()
    expect(page.locator("#layer-fit-note")).not_to_contain_text("layer mask")
    page.locator("#sdxl-layer-6 input").check()  # and the style module
    expect(mask).to_have_value("00010010000")
    expect(page.locator("#ip_preset input[value='style+composition']")).to_be_checked()


def _choose(page: Any, control: str, option: str) -> None:
    page.locator(f"#{control} input").click()
    page.get_by_role("option", name=option).click()


def test_the_weights_grid_and_its_curves_follow_the_chosen_model(page: Any) -> None:
    """SDXL's grid has its 11 modules as columns; a curve fills SDXL's 11 weights; back on SD 1.5, 16 columns."""
    options = page.locator("#reference-options")
    if not options.locator("#ip-weights-grid").is_visible():
        options.locator("button.label-wrap").first.click()
    headers = page.locator("#ip-weights-grid thead th")
    _choose(page, "base_model", "sdxl-model")
    expect(headers).to_have_count(11)
    expect(headers.nth(4)).to_have_attribute("title", "L4 mid")
    _choose(page, "ip_curve", "strong middle")
    expect(page.locator("#ip_weights input")).to_have_value("0, 0.36, 0.64, 0.84, 0.96, 1, 0.96, 0.84, 0.64, 0.36, 0")
    expect(page.locator("#layer-fit-note")).not_to_contain_text("per-layer weights")
    _choose(page, "base_model", "sd15-model")
    expect(headers).to_have_count(16)  # the typed SDXL curve is that curve on SD 1.5: shown, not refused
    expect(page.locator("#layer-fit-note")).not_to_contain_text("per-layer weights")
    expect(page.locator("#ip_weights input")).to_have_value("0, 0.36, 0.64, 0.84, 0.96, 1, 0.96, 0.84, 0.64, 0.36, 0")


def test_the_note_beside_the_mask_names_the_second_adapter(page: Any) -> None:
    options = page.locator("#reference-options")
    if not options.locator("#ip2_layers").is_visible():
        options.locator("button.label-wrap").first.click()
    _choose(page, "base_model", "sdxl-model")
    page.locator("#ip_preset").get_by_text("all", exact=True).click()
    second = page.locator("#ip2_layers input")
    second.fill("1" * 15 + "0")
    second.press("Tab")
    note = page.locator("#layer-fit-note")
    expect(note).not_to_contain_text("Second adapter")  # its λ is 0: it does not act
    scale = page.locator("#ip2_scale input[type='number']")
    scale.fill("0.6")
    scale.press("Enter")
    expect(note).to_contain_text("Second adapter: The layer mask has 16 bits; SDXL takes 11")
    note.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "second-adapter-note.png"))
