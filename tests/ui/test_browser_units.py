"""A user adds a ControlNet unit on the page, gives it a map and generates: the unit reaches the PNG's text
(Debian's chromium on ``python app.py`` with the tiny models, as test_browser)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ipa_demo.architecture.layers import WEIGHT_CURVES
from ipa_demo.settings.values import floats_text

from .test_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, playwright, set_slider

from .browser_checks import WCAG_AA, serious  # noqa: E402 (needs playwright)

axe_module = pytest.importorskip("axe_playwright_python.sync_playwright", reason="axe-playwright-python")
expect = playwright.expect


@pytest.fixture(scope="module")
def page(app_url: str) -> Iterator[Any]:
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(app_url)
        page.wait_for_selector("#generate-button")
        yield page
        browser.close()


def test_adding_a_controlnet_unit_on_the_page(page: Any, tmp_path: Path) -> None:
    edges = tmp_path / "edges.png"
    Image.new("RGB", (64, 64), (255, 255, 255)).save(edges)
    page.get_by_text("More ControlNet units", exact=True).click()
    add = page.locator("#add-controlnet-unit")
    add.click()
    unit = page.locator("#controlnet-unit-2-image")
    expect(unit).to_be_visible()
    expect(page.locator("#controlnet-unit-3-image")).to_be_hidden()  # one form per click
    page.locator("#controlnet-unit-2-kind input[value='canny']").check()
    unit.locator("input[type=file]").set_input_files(str(edges))
    page.wait_for_selector("#controlnet-unit-2-image img")
    page.locator("#controlnet-unit-2-is_map input").check()
    page.locator("#controlnet-unit-2-scale input[type=number]").fill("0.55")
    page.locator("#controlnet-unit-2-scale input[type=number]").press("Enter")
    page.locator("#prompt textarea").fill("a room")
    set_slider(page, "ip_scale", 0)
    for elem_id, value in (("steps", 2), ("width", 64), ("height", 64)):
        set_slider(page, elem_id, value)
    page.wait_for_timeout(500)  # the form's change has written the parameter
    page.locator("#generate-button").click()
    page.wait_for_selector("#output-gallery img")
    parameters = page.locator("#parameters textarea").input_value()
    assert "Weight: 0.55" in parameters and "Unit: controlnet 2" in parameters, parameters
    assert "Module: none, Model: control_v11p_sd15_canny" in parameters  # a ready map: no preprocessor


# A further IP-Adapter unit's fields, by the role that names them to assistive technology (a slider's and a
# number box's names start "range slider for"/"number input for"), and the upload areas by their visible label.
IP_UNIT_NAMED = {"combobox": ("variant", "weight curve"), "slider": ("λ", "start", "end"),
                 "textbox": ("per-layer weights", "reference weights"), "grid": ("per-layer weights grid",)}  # fmt: skip
IP_UNIT_LABELLED = ("reference image(s)", "layers", "several references", "region masks", "draw a mask",
                    "negative reference image")  # fmt: skip


def test_opening_an_ip_unit_shows_what_the_first_unit_has_with_accessible_names(page: Any) -> None:
    page.get_by_text("More IP-Adapter units", exact=True).click()
    unit = "IP-Adapter unit 3"
    expect(page.get_by_role("textbox", name=f"{unit}: per-layer weights")).to_be_hidden()
    page.locator("#add-ip-unit").click()
    for role, parts in IP_UNIT_NAMED.items():
        for part in parts:
            expect(page.get_by_role(role, name=f"{unit}: {part}")).to_be_visible()
    for part in IP_UNIT_LABELLED:
        expect(page.get_by_text(f"{unit}: {part}", exact=True)).to_be_visible()
    for button in ("weights-fill", "weights-clear", "add-mask"):
        expect(page.locator(f"#ip-unit-3-{button}")).to_be_visible()
    page.get_by_role("combobox", name=f"{unit}: weight curve").click()  # the curve fills the weights, as the first unit's
    page.get_by_role("option", name="ease in").click()
    expect(page.get_by_role("textbox", name=f"{unit}: per-layer weights")).to_have_value(floats_text(WEIGHT_CURVES["ease in"]))
    found = serious(axe_module.Axe().run(page, context="#settings", options=WCAG_AA).response)
    assert not found, found
    expect(page.locator("#ip-unit-4-weights")).to_be_hidden()  # one form per click
