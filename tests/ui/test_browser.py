"""A person's path through the app in a real browser: Debian's chromium driven by Playwright.

Starts ``python app.py`` on the tiny model set. First the mistakes a newcomer makes: every helper
button before any image, PNGs the loader cannot use, a bad value far from the button; each must be
seen where the user looks (a toast, a message beside the button). Then it uploads a reference,
moves λ, picks a mask preset, generates, follows a 30-step run's progress, sends the output back
as reference and init image, compares, stops a long run, restores every control from a PNG and
loads an example, inpaints a band of the cat; no gallery may crop a single image. Last, a phone:
Generate is one screen below the prompt. Screenshots go to the test's temporary folder, or to the
folder named by ``IPA_SCREENSHOTS`` (``IPA_SCREENSHOTS=docs`` refreshes the README's pictures, as
small palette PNGs).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from PIL import Image

from ipa_demo.architecture.layers import MASK_PRESETS
from ipa_demo.metadata import save_png
from ipa_demo.settings import GenerationSettings, IPAdapterSettings
from ipa_demo.settings.parameters import format_parameters
from ipa_demo.ui.examples import EXAMPLES

from .test_app import ROOT, launched_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 90_000
ASSETS = ROOT / "assets"

if not CHROMIUM.exists():
    if os.environ.get("IPA_REQUIRE_BROWSER"):  # CI installs chromium: there, a missing browser is a failure
        raise RuntimeError(f"IPA_REQUIRE_BROWSER is set but there is no browser at {CHROMIUM}")
    pytest.skip(f"no browser at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api", reason="Python playwright is not installed")
playwright.expect.set_options(timeout=TIMEOUT_MS)  # two busy cores: a first step can take seconds
from .browser_checks import (  # after the skip above: it needs playwright
    cropped_images,
    expect_error_toast,
    in_viewport,
    paint_a_band,
    progress_samples,
    save_screenshot,
    share_during_run,
)

PHONE = {"width": 390, "height": 844}
GALLERIES = ("#reference_images", "#output-gallery", "#compare-gallery", "#control-maps")  # and #inpaint-gallery


def screenshot_folder(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("IPA_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_user_generates_compares_stops_and_restores(tiny_models_dir: Path, tmp_path: Path) -> None:
    """One journey (one app.py, one browser): each step leaves the page as the next one expects."""
    shots = screenshot_folder(tmp_path)
    with launched_app(tiny_models_dir, tmp_path / "app.log") as url, playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        outside: list[str] = []
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        # blob: URLs of the app's own origin are objects the page made in memory (the mask editor's canvas)
        own = (url, f"blob:{url}")
        page.on("request", lambda request: outside.append(request.url) if not request.url.startswith(own) else None)
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        page.wait_for_selector("#generate-button")

        misuse_every_helper(page, tmp_path)
        refused_requests_are_explained_at_the_button(page)
        generate(page, shots)
        follow_the_progress_of_a_30_step_run(page)
        compare(page, shots)
        use_the_output(page)
        stop_a_long_run(page)
        restore_from_a_png(page, tmp_path)
        load_an_example(page)
        inpaint(page, shots)
        on_a_phone(browser, url, shots)
        browser.close()
    assert not outside, f"the page fetched from outside the app: {outside[:3]}"


def set_slider(page, elem_id: str, value: float) -> None:
    """Move a slider as a keyboard user would: type into its box, then leave it."""
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")
    box.blur()


def misuse_every_helper(page, tmp_path: Path) -> None:
    """Before any image: each output helper, and PNGs the loader cannot use, answer with a toast."""
    for button in ("#reuse-seed", "#use-as-reference", "#use-as-init", "#load-its-settings"):
        page.locator(button).click()
        expect_error_toast(page, "Generate an image first")
    plain, not_an_image = tmp_path / "plain.png", tmp_path / "notes.png"
    Image.new("RGB", (8, 8)).save(plain)
    not_an_image.write_text("not a picture")
    page.get_by_text("Load settings from a PNG").click()
    for path, message in (
        (plain, "carries no generation parameters"),
        (not_an_image, "is not a PNG this app can read"),
    ):
        page.locator("#png-file input[type=file]").set_input_files(str(path))
        expect_error_toast(page, message)
        page.locator("#png-file button[aria-label='Clear']").click()
    page.get_by_text("Load settings from a PNG").click()  # folded again, as restore_from_a_png expects


def refused_requests_are_explained_at_the_button(page) -> None:
    """A bad value far below the button: the refusal shows beside the button and as a toast, by label."""
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-button").click()
    box = page.locator("#compare-error")
    playwright.expect(box).to_contain_text("Compare needs a reference image")
    assert "ip_scale" not in box.inner_text()
    expect_error_toast(page, "Compare needs a reference image")

    page.get_by_role("tab", name="Generate").click()
    set_slider(page, "width", 65)
    page.locator("#generate-button").scroll_into_view_if_needed()
    page.locator("#generate-button").click()
    box = page.locator("#generate-error")
    playwright.expect(box).to_contain_text("Width (under “Sampling”): must be a multiple of 8")
    assert in_viewport(page, box) and in_viewport(page, page.locator("#generate-button"))
    expect_error_toast(page, "Width")
    playwright.expect(page.locator("#width .validation-error").first).to_be_visible()  # the field stays marked


def generate(page, shots: Path) -> None:
    page.locator("#reference_images input[type=file]").set_input_files(str(ASSETS / "chelsea.jpg"))
    page.wait_for_selector("#reference_images img")
    page.locator("#prompt textarea").fill("a red bicycle, watercolor")

    page.locator("#ip_scale input[type=range]").fill("1.2")
    assert page.locator("#ip_scale input[type=number]").input_value() == "1.2"
    page.locator("#ip_preset input[value='style']").check()
    mask = page.locator("#ip_layers input, #ip_layers textarea").first
    playwright.expect(mask).to_have_value(MASK_PRESETS["style"])
    playwright.expect(page.locator("#layer-7 input")).to_be_checked()
    playwright.expect(page.locator("#layer-0 input")).not_to_be_checked()

    for elem_id, value in (("steps", 2), ("width", 64), ("height", 64)):
        set_slider(page, elem_id, value)
    page.locator("#generate-button").click()

    page.wait_for_selector("#output-gallery img")
    used_seed = page.locator("#used-seed input")
    playwright.expect(used_seed).not_to_have_value("")
    assert 0 <= int(used_seed.input_value()) < 2**32
    parameters = page.locator("#parameters textarea").input_value()
    assert "IP scale: 1.2" in parameters and f"IP layers: {MASK_PRESETS['style']}" in parameters
    assert f"Seed: {used_seed.input_value()}," in parameters
    page.wait_for_selector("#before-after img")
    playwright.expect(page.locator("#generate-error")).to_be_hidden()  # the width is fine now
    playwright.expect(page.locator("#helper-error")).to_be_hidden()  # "Generate an image first" no longer holds
    for gallery in ("#reference_images", "#output-gallery"):  # one image each
        assert not cropped_images(page, gallery), gallery
    page.evaluate("scrollTo(0, 0)")  # the results column sticks where the page is scrolled
    save_screenshot(page.screenshot(full_page=True), shots / "generate-tab.png")


def follow_the_progress_of_a_30_step_run(page) -> None:
    """Sampled every 100 ms while the steps run, "N/30 steps" shows at least 80 % of the time;
    the Generate button is disabled meanwhile, so a second click cannot start a second run."""
    for elem_id, value in (("steps", 30), ("width", 384), ("height", 384)):
        set_slider(page, elem_id, value)
    page.locator("#seed input").fill("3030")
    page.locator("#generate-button").click()
    playwright.expect(page.locator("#generate-button")).to_be_disabled()
    shown, samples = share_during_run(progress_samples(page, "#used-seed input", "3030"))
    print(f"progress visible in {shown} of {samples} samples")
    assert samples >= 10 and shown >= 0.8 * samples, f"progress visible in {shown} of {samples} samples"
    playwright.expect(page.locator("#generate-button")).to_be_enabled()
    for elem_id, value in (("steps", 2), ("width", 64), ("height", 64)):
        set_slider(page, elem_id, value)


def use_the_output(page) -> None:
    page.get_by_role("tab", name="Generate").click()
    page.locator("#use-as-reference").click()
    playwright.expect(page.locator("#reference_images img")).to_have_count(2)
    page.locator("#use-as-init").click()
    page.get_by_text("img2img", exact=True).click()  # open its accordion
    playwright.expect(page.locator("#init_image img")).to_be_visible()


def compare(page, shots: Path) -> None:
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-button").click()
    gallery = page.locator("#compare-gallery")
    gallery.locator("img").first.wait_for()
    captions = gallery.inner_text().lower()
    for method in ("reference", "img2img", "ip-adapter"):
        assert method in captions
    playwright.expect(page.locator("#compare-table")).to_contain_text("similarity")
    assert not cropped_images(page, "#compare-gallery")
    page.evaluate("scrollTo(0, 0)")  # the results column sticks where the page is scrolled
    save_screenshot(page.screenshot(full_page=True), shots / "compare-tab.png")


def stop_a_long_run(page) -> None:
    page.get_by_role("tab", name="Generate").click()
    for elem_id, value in (("steps", 150), ("width", 320), ("height", 320)):
        set_slider(page, elem_id, value)
    page.locator("#generate-button").click()
    progress = page.get_by_text(re.compile(r"Denoising · \d+/\d+ steps · [\d.]+ s in all - \d")).first  # gr.Progress following the steps
    playwright.expect(progress).to_be_visible()
    page.locator("#stop-generate").click()
    playwright.expect(progress).to_be_hidden()

    for elem_id, value in (("steps", 2), ("width", 64), ("height", 64)):
        set_slider(page, elem_id, value)
    page.locator("#seed input").fill("4242")
    page.locator("#generate-button").click()
    playwright.expect(page.locator("#used-seed input")).to_have_value("4242")


def restore_from_a_png(page, tmp_path: Path) -> None:
    settings = GenerationSettings(
        prompt="a lighthouse at night", negative_prompt="fog", seed=98765, width=72, height=88, steps=9,
        guidance=3.5, scheduler="Euler a",
        ip=IPAdapterSettings(scale=0.45, mask=MASK_PRESETS["composition"], stage_weights=(1, 1, 0.6, 1, 1, 1, 1)),
    )  # fmt: skip
    png = save_png(Image.new("RGB", (72, 88)), tmp_path / "old.png", format_parameters(
        settings, settings.seed, ip_used=True, img2img=False))  # fmt: skip
    set_slider(page, "num_images", 2)
    page.get_by_text("Load settings from a PNG").click()
    page.locator("#png-file input[type=file]").set_input_files(str(png))
    playwright.expect(page.locator("#prompt textarea")).to_have_value("a lighthouse at night")
    playwright.expect(page.locator("#negative_prompt textarea")).to_have_value("fog")
    playwright.expect(page.locator("#seed input")).to_have_value("98765")
    playwright.expect(page.locator("#steps input[type=number]")).to_have_value("9")
    playwright.expect(page.locator("#ip_scale input[type=number]")).to_have_value("0.45")
    playwright.expect(page.locator("#ip_stage_down2 input[type=number]")).to_have_value("0.6")
    playwright.expect(page.locator("#ip_preset input[value='composition']")).to_be_checked()
    playwright.expect(page.locator("#layer-4 input")).to_be_checked()
    playwright.expect(page.locator("#layer-7 input")).not_to_be_checked()
    playwright.expect(page.locator("#num_images input[type=number]")).to_have_value("2")  # the user's, not the PNG's


def load_an_example(page) -> None:
    example = next(example for example in EXAMPLES if example.control_image)
    page.get_by_text(example.label).click()
    playwright.expect(page.locator("#prompt textarea")).to_have_value(example.settings.prompt)
    playwright.expect(page.locator("#ip_layers input, #ip_layers textarea").first).to_have_value(
        example.settings.ip.mask
    )
    playwright.expect(page.locator("#reference_images img")).to_have_count(len(example.references))
    page.get_by_text("Structure: ControlNet / T2I-Adapter").click()
    playwright.expect(page.locator("#control_image img")).to_be_visible()
    playwright.expect(page.locator(f"#controlnet input[value='{example.settings.controlnet.kind}']")).to_be_checked()
    playwright.expect(page.locator("#seed input")).to_have_value(str(example.settings.seed))
    for elem_id, value in (("steps", 2), ("width", 64), ("height", 64)):
        set_slider(page, elem_id, value)
    page.locator("#generate-button").click()
    page.wait_for_selector("#control-maps img")
    for gallery in GALLERIES:
        assert not cropped_images(page, gallery), gallery


def inpaint(page, shots: Path) -> None:
    """The Inpaint tab: a band painted over the cat, redone; the README shows the tab with both."""
    for elem_id, value in (("steps", 4), ("width", 256), ("height", 256), ("num_images", 1)):
        set_slider(page, elem_id, value)
    page.get_by_role("tab", name="Inpaint").click()
    paint_a_band(page, ASSETS / "chelsea.jpg")
    page.locator("#inpaint-button").click()
    playwright.expect(page.locator("#inpaint-parameters textarea")).to_have_value(re.compile(r"Mask digest: [0-9a-f]"))
    page.locator("#inpaint-gallery img").first.wait_for()
    assert not cropped_images(page, "#inpaint-gallery")  # it showed a square result cut to the box's width
    page.set_viewport_size({"width": 1400, "height": 1700})  # the results column (one screen high) shows both
    page.evaluate("document.querySelector('#results').scrollTo(0, 0)")
    page.wait_for_timeout(500)
    column, gallery = page.locator("#results").bounding_box(), page.locator("#inpaint-gallery").bounding_box()
    height = gallery["y"] + gallery["height"] + 12 - column["y"]  # from the tabs to the result, nothing cut
    save_screenshot(page.screenshot(clip={**column, "height": height}), shots / "inpaint-tab.png")
    page.set_viewport_size({"width": 1400, "height": 1000})
    for elem_id, value in (("steps", 2), ("width", 64), ("height", 64)):
        set_slider(page, elem_id, value)


def on_a_phone(browser, url: str, shots: Path) -> None:
    """390×844: Generate is within one screen of the prompt, and a refusal shows beside it."""
    page = browser.new_page(viewport=PHONE)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    prompt, button = page.locator("#prompt"), page.locator("#generate-button")
    prompt.wait_for()
    prompt_top, button_box = prompt.bounding_box()["y"], button.bounding_box()
    assert button_box["y"] + button_box["height"] - prompt_top <= PHONE["height"], (prompt_top, button_box)
    page.evaluate(f"scrollTo(0, {prompt_top - 8})")  # one screen from the prompt: the tabs and Generate in it
    save_screenshot(page.screenshot(), shots / "generate-phone.png")
    page.evaluate("scrollTo(0, 0)")
    button.click()  # λ 0.7 and no reference
    playwright.expect(page.locator("#generate-error")).to_contain_text("Reference image(s)")
    playwright.expect(page.locator("#generate-error")).to_be_in_viewport(ratio=0.95)  # sub-pixel rounding
    assert in_viewport(page, button)
    page.close()
