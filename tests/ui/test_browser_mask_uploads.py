"""One Generate run with a painted img2img mask sends the mask editor once (ipa_demo/ui/editor_copy.py).

Gradio 6.31's page asks an ImageEditor for its value again on every status message of every event once
the editor has had a loading status (an input of an event that completed, such as the refusal check):
each ask reads the canvas back from WebGL and uploads background, layer and composite anew. The mask
editor is an input of every event of Generate, Compare, Explore and Inpaint, and it was also asked
because it was the output of the init image's server event and sat in the img2img accordion, an output of
the refusal checks: one run at 1024 px sent 420-490 uploads (here, 256 px and 20 steps: 60). The events
now read a hidden copy that a browser-only step fills once per click, the init image reaches the editor
through a hidden one, and the page opens the accordion a refusal is about (3 uploads).

Counted while one run goes: ``/gradio_api/upload`` requests (at most one set: background, layer,
composite). The mask still reaches the engine: the painted part of the output changed most.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from ..helpers import noise_image
from .test_browser import TIMEOUT_MS, playwright, set_slider
from .test_browser_inpainting import Traffic, downloaded, the_painted_part_changed_most

from .browser_checks import DESKTOP, expect_editor_shows_picture, opened_page, zigzag  # noqa: E402 (needs playwright)

expect = playwright.expect
INIT, SIZE, STEPS, SEED = 256, 128, 20, 31
UPLOADS_PER_CLICK = 3  # background, one layer, composite


def painted(layers: list[dict[str, Any]]) -> Image.Image:
    """Where the sent layers are painted (opaque), on the init image's grid."""
    union = Image.new("L", (INIT, INIT), 0)
    for layer in layers:
        alpha = downloaded(layer["url"]).convert("RGBA").getchannel("A")
        union = ImageChops.lighter(union, alpha.point(lambda value: 255 * (value > 0)))
    return union


def test_one_generate_run_uploads_the_painted_mask_once(browser: Any, app_url: str, tmp_path: Path) -> None:
    init_path = tmp_path / "init.png"
    noise_image(INIT, INIT, seed=9).save(init_path)
    page = opened_page(browser, app_url, DESKTOP, timeout_ms=TIMEOUT_MS)
    page.locator("#prompt textarea").fill("a red bicycle")
    set_slider(page, "ip_scale", 0)  # no reference image: the text alone
    page.get_by_text("img2img", exact=True).click()
    page.locator("#init_image input[type=file]").set_input_files(str(init_path))
    expect_editor_shows_picture(page.locator("#mask_image"))
    page.wait_for_timeout(1000)  # the canvas settles (its picture comes by a second, browser-only step)
    page.locator("#mask_image").scroll_into_view_if_needed()  # the mouse reaches only what is on screen
    zigzag(page, page.locator("#mask_image"), across=(-90, -10), down=(-40, 40))
    for elem_id, value in (("steps", STEPS), ("width", SIZE), ("height", SIZE), ("strength", 1)):
        set_slider(page, elem_id, value)
    page.locator("#seed input").fill(str(SEED))
    page.wait_for_timeout(500)  # the stroke's own work is done before the count starts

    traffic = Traffic(app_url)
    page.on("request", traffic.request)
    page.locator("#generate-button").click()
    expect(page.locator("#used-seed input")).to_have_value(str(SEED))
    expect(page.locator("#generate-button")).to_be_enabled()  # the run's last event has ended
    page.wait_for_timeout(500)
    print(traffic.summary())
    assert traffic.uploads <= UPLOADS_PER_CLICK, f"{traffic.uploads} uploads for one click"

    parameters = page.locator("#parameters textarea").input_value()
    assert re.search(r"Mask digest: [0-9a-f]{12}", parameters), parameters  # the run inpainted
    sent = traffic.editor_values()
    assert sent, "no request carried the mask"
    mask = painted(sent[-1]["layers"])
    box = mask.getbbox()
    assert box is not None and box[2] < INIT * 3 // 4, f"the stroke is not where it was drawn: {box}"
    output = downloaded(page.locator("#output-gallery img").first.get_attribute("src")).convert("RGB")
    init = Image.open(init_path).convert("RGB").resize((SIZE, SIZE))
    the_painted_part_changed_most(output, init, mask, "the output against the init image")
    page.close()
