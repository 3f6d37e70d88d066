"""Inpainting from the page in a real browser: Debian's chromium driven by Playwright, ``python app.py`` on
the tiny model set, as in test_browser (whose skip and IPA_REQUIRE_BROWSER rules this module shares).

The risk it guards: ``BodyLimit`` (ipa_demo/ui/body_limit.py) answers 413 to any request body over
1 MiB except Gradio's upload route. A mask painted in the ImageEditor on an init image whose PNG is over
1 MiB (640×640 of noise, as a larger photo may be) must reach the server as uploaded files named in a
small JSON body, never inline. So the test paints a band
with the mouse, generates, and records every request: the editor's background, layers and composite
are file references (the background alone is over 1 MiB), the largest JSON body is a few kilobytes,
nothing got 413, and the image came back inpainted: the painted part changed far more than the rest
(outside the mask the latents are the init image's; only the VAE decoder, which sees the whole image,
moves those pixels a little). Then Compare, which does not inpaint, refuses the mask in a toast, and
Explore sweeps with it: its strength=1 cell is Generate's image, and its cells differ inside the mask.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image, ImageChops, ImageFilter

from ipa_demo.ui.body_limit import DEFAULT_MAX_BYTES

from ..helpers import noise_image
from .test_app import launched_app
from .test_browser import ASSETS, CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, playwright, screenshot_folder, set_slider

expect = playwright.expect
# after test_browser, which skips without a browser
from .browser_checks import expect_editor_shows_picture, expect_error_toast, zigzag

# The init image's side: its PNG (noise, 1.2 MB) is over 1 MiB, as a photo's may be. Not larger: the page
# encodes and uploads the editor's background, layer and composite at this size for each event that
# takes the mask (many), which at 1024 px made this the suite's slowest test (255 s) for the same point.
INIT = 640
SIZE = 128  # the generated image's side
MARGIN = 17  # filter window: 8 px (of SIZE) each side of the mask's edge left out, the decoder mixes across it
SEED = 7
JSON_CEILING = DEFAULT_MAX_BYTES // 64  # "well under the limit": 16 KiB; the background inline alone is MBs


class Traffic:
    """What the page sent: each JSON body (route, bytes, parsed), the number of uploads, the 413s."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.json: list[tuple[str, int, Any]] = []
        self.uploads = 0
        self.refused: list[str] = []

    def request(self, request: Any) -> None:
        if request.method != "POST":
            return
        route = request.url.removeprefix(self.url).split("?")[0]
        if route.endswith("upload"):
            self.uploads += 1
        elif "application/json" in (request.headers.get("content-type") or ""):
            body = request.post_data_buffer or b""
            self.json.append((route, len(body), json.loads(body)))

    def response(self, response: Any) -> None:
        if response.status == 413:
            self.refused.append(response.url)

    def summary(self) -> str:
        largest = max(self.json, key=lambda sent: sent[1], default=("none", 0, None))
        return (f"{self.uploads} uploads, {len(self.json)} JSON bodies, the largest {largest[1]} bytes to "
                f"{largest[0]}; 413 for {self.refused or 'none'}")  # fmt: skip

    def editor_values(self) -> list[dict[str, Any]]:
        """The mask editor's value in every JSON body that carries it (the one input with "layers")."""
        return [item for _, _, body in self.json for item in body.get("data", [])
                if isinstance(item, dict) and "layers" in item]  # fmt: skip


def test_a_mask_on_an_image_over_the_body_limit_inpaints_under_it(tiny_models_dir: Path, tmp_path: Path) -> None:
    shots = screenshot_folder(tmp_path)
    init_path = tmp_path / "init.png"
    noise_image(INIT, INIT, seed=5).save(init_path)
    assert init_path.stat().st_size > DEFAULT_MAX_BYTES  # inline, the picture alone would be refused
    with launched_app(tiny_models_dir, tmp_path / "app.log") as url, playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        traffic = Traffic(url)
        page.on("request", traffic.request)
        page.on("response", traffic.response)
        page.goto(url)
        page.wait_for_selector("#generate-button")

        started = time.monotonic()
        try:  # a failure shows what the page had sent until then
            paint_a_band(page, init_path)
            painted = time.monotonic()
            output = generate(page)
            print(f"painted in {painted - started:.1f} s, generated in {time.monotonic() - painted:.1f} s")
            compare_refuses_the_mask(page)
            grid = sweep_with_the_mask(page)
            page.screenshot(path=str(shots / "inpainting.png"), full_page=True)
        finally:
            print(traffic.summary())
            page.remove_listener("request", traffic.request)
            page.remove_listener("response", traffic.response)
            browser.close()

        assert not traffic.refused, f"413 for {traffic.refused}"
        largest = max(traffic.json, key=lambda sent: sent[1])
        assert largest[1] < JSON_CEILING, largest[:2]
        values = traffic.editor_values()
        assert values, "no request carried the mask editor's value"
        for value in values:  # every image of the editor is a file the server already has, named by path
            files = [value["background"], value["composite"], *value["layers"]]
            assert all(isinstance(file, dict) and file.get("path") for file in files), value
        assert values[-1]["background"]["size"] > DEFAULT_MAX_BYTES  # uploaded: too large for a JSON body
        mask = painted_mask(values[-1]["layers"])
        init = Image.open(init_path).convert("RGB").resize((SIZE, SIZE))
        the_painted_part_changed_most(output, init, mask, "the output against the init image")
        cells = [grid.crop((grid.width - (2 - column) * SIZE, grid.height - SIZE,
                            grid.width - (1 - column) * SIZE, grid.height)) for column in (0, 1)]  # fmt: skip
        assert np.array_equal(np.asarray(cells[1]), np.asarray(output)), "Explore's strength=1 cell is not Generate's"
        the_painted_part_changed_most(cells[0], cells[1], mask, "the cells strength=0.5 and 1 against each other")


def paint_a_band(page: Any, init_path: Path) -> None:
    """Load the init image (it becomes the editor's canvas), then one zigzag stroke left of the middle."""
    page.locator("#prompt textarea").fill("a red bicycle")
    set_slider(page, "ip_scale", 0)  # no reference image: the text alone
    page.get_by_text("img2img", exact=True).click()
    with page.expect_response(lambda response: "/run/predict" in response.url):  # init image -> editor
        page.locator("#init_image input[type=file]").set_input_files(str(init_path))
    editor = page.locator("#mask_image")
    expect_editor_shows_picture(editor)
    zigzag(page, editor, across=(-90, -10), down=(-40, 40))


def generate(page: Any) -> Image.Image:
    for elem_id, value in (("steps", 4), ("width", SIZE), ("height", SIZE), ("strength", 1)):
        set_slider(page, elem_id, value)
    page.locator("#seed input").fill(str(SEED))
    page.locator("#generate-button").click()
    expect(page.locator("#used-seed input")).to_have_value(str(SEED))
    parameters = page.locator("#parameters textarea").input_value()
    assert f"Size: {SIZE}x{SIZE}" in parameters and "Denoising strength: 1" in parameters, parameters
    expect(page.locator("#generate-error")).to_be_hidden()
    return downloaded(page.locator("#output-gallery img").first.get_attribute("src")).convert("RGB")


def compare_refuses_the_mask(page: Any) -> None:
    page.locator("#reference_images input[type=file]").set_input_files(str(ASSETS / "chelsea.jpg"))
    page.wait_for_selector("#reference_images img")
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-button").click()
    expect(page.locator("#compare-error")).to_contain_text("Compare does not inpaint: clear the mask")  # at the button
    expect_error_toast(page, "Compare does not inpaint: clear the mask")


def sweep_with_the_mask(page: Any) -> Image.Image:
    page.get_by_role("tab", name="Explore").click()
    page.locator("#x_axis textarea").fill("strength=0.5,1")
    page.locator("#y_axis textarea").fill("")
    page.locator("#sweep-button").click()
    expect(page.locator("#sweep-note")).to_contain_text(f"Seed {SEED} for every cell; 2 cells.")
    expect(page.locator("#sweep-error")).to_be_hidden()
    return downloaded(page.locator("#sweep-grid img").first.get_attribute("src")).convert("RGB")


def downloaded(url: str | None) -> Image.Image:
    """An image the server serves (the page shows it, or the page uploaded it)."""
    assert url, "no image shown"
    response = httpx.get(url, timeout=30)
    response.raise_for_status()
    return Image.open(io.BytesIO(response.content))


def painted_mask(layers: list[dict[str, Any]]) -> Image.Image:
    """Where the layers are painted (opaque), as the app reads them, on the init image's grid."""
    union = Image.new("L", (INIT, INIT), 0)
    for layer in layers:
        image = downloaded(layer["url"])
        assert image.size == (INIT, INIT), image.size
        union = ImageChops.lighter(union, image.convert("RGBA").getchannel("A").point(lambda alpha: 255 * (alpha > 0)))
    box = union.getbbox()
    assert box is not None and box[2] <= INIT // 2, f"the stroke is not where it was drawn: {box}"
    return union


def the_painted_part_changed_most(image: Image.Image, before: Image.Image, mask: Image.Image, what: str) -> None:
    """Mean change per pixel well inside the mask is over twice that well outside it."""
    small = mask.resize((SIZE, SIZE))
    inside = np.asarray(small.filter(ImageFilter.MinFilter(MARGIN))) > 127
    outside = np.asarray(small.filter(ImageFilter.MaxFilter(MARGIN))) < 128
    assert inside.sum() > 100 and outside.sum() > 100, (inside.sum(), outside.sum())
    change = np.abs(np.asarray(image, dtype=float) - np.asarray(before, dtype=float)).mean(axis=-1)
    print(f"{what}: {change[inside].mean():.1f} inside the mask, {change[outside].mean():.1f} outside")
    assert change[inside].mean() > 2 * change[outside].mean(), (what, change[inside].mean(), change[outside].mean())
