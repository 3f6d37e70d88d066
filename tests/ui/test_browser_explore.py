"""The Explore tab in a real browser: Debian's chromium driven by Playwright, ``python app.py`` on the
tiny model set, as in test_browser.

A newcomer's path: axes the server must refuse (a value that is no number, more cells than it makes,
a cell beyond its limits), each explained beside Sweep by the control's label; a 2×2 sweep (λ 0 and 1
by the all and style presets, made as one batch) whose bar names the images and the steps for most of the run, then the
grid, the change maps, the plot and the scores as the page draws them; Stop in a long sweep; the
injection maps, refused with IP-Adapter off, then shown; last, the tab on a phone. Screenshots go where
test_browser puts its own (``IPA_SCREENSHOTS``).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urljoin

import httpx

from .test_app import launched_app
from .test_browser import (
    ASSETS,
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    TIMEOUT_MS,
    playwright,
    screenshot_folder,
    set_slider,
)

expect = playwright.expect
from .browser_checks import (  # after test_browser, which skips without a browser: it needs playwright
    expect_error_toast,
    in_viewport,
    progress_samples,
    region_means,
    share_during_run,
    shown_picture,
)

# 256 px cells: a step takes about 0.1 s here, the sampling period (with 128 px cells, 25 steps a second,
# the bar showed in 78-88 % of the samples); their grid has 16 px labels, a 29 px header, 174 px row labels.
CELL, HEADER, ROW_LABELS = 256, 29, 174
MAPS = (4 * 128, 2 * (22 + 128))  # the injection maps of a square image: two rows of four 128 px tiles
REFUSALS = [
    ({"x_axis": "ip-scale=abc", "y_axis": ""}, "X axis: 'abc' is not a number"),
    ({"x_axis": "ip-layers=each", "y_axis": "seed=1,2,3"},
     "X axis: 16 × 3 = 48 cells; this server makes at most 32 in one sweep"),
    ({"x_axis": "ip-scale=0,1", "y_axis": "width=64,4096"}, "Y axis: width=4096: at most 1024 on this server"),
]  # fmt: skip


def test_a_user_sweeps_stops_and_maps_in_the_explore_tab(tiny_models_dir: Path, tmp_path: Path) -> None:
    shots = screenshot_folder(tmp_path)
    with launched_app(tiny_models_dir, tmp_path / "app.log") as url, playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url)
        page.wait_for_selector("#generate-button")
        add_reference(page)
        page.get_by_role("tab", name="Explore").click()

        bad_requests_are_explained_at_the_sweep_button(page)
        sweep_two_by_two(page, shots)
        stop_a_long_sweep(page)
        show_the_injection_maps(page)
        on_a_phone(browser, url, shots)
        browser.close()


def add_reference(page) -> None:
    page.locator("#reference_images input[type=file]").set_input_files(str(ASSETS / "chelsea.jpg"))
    page.wait_for_selector("#reference_images img")
    page.locator("#prompt textarea").fill("a lighthouse, watercolor")


def set_axes(page, x_axis: str, y_axis: str) -> None:
    page.locator("#x_axis textarea").fill(x_axis)
    page.locator("#y_axis textarea").fill(y_axis)


def bad_requests_are_explained_at_the_sweep_button(page) -> None:
    """Each refusal beside the button and in a toast, naming the control by its label; the axis marked."""
    box, button = page.locator("#sweep-error"), page.locator("#sweep-button")
    for axes, message in REFUSALS:
        set_axes(page, **axes)
        button.click()
        expect(box).to_contain_text(f"Not started. {message}")
        assert in_viewport(page, box) and in_viewport(page, button)
        expect_error_toast(page, message)
        marked = "#x_axis" if message.startswith("X axis") else "#y_axis"
        expect(page.locator(f"{marked} .validation-error").first).to_be_visible()
    set_axes(page, "ip-scale=0,1", "")
    set_slider(page, "width", 65)  # a shared setting, in the other column
    button.click()
    expect(box).to_contain_text("Width (under “Sampling”): must be a multiple of 8")
    expect_error_toast(page, "Width")


def sweep_two_by_two(page, shots: Path) -> None:
    """30 steps for each of the 4 images (λ 0 with the all preset is also the change maps' baseline),
    made as one batch: sampled every 100 ms, the bar shows the images and "N/120 steps" (cell-steps)
    at least 80 % of the time."""
    for elem_id, value in (("steps", 30), ("width", CELL), ("height", CELL)):
        set_slider(page, elem_id, value)
    page.locator("#seed input").fill("3131")
    set_axes(page, "ip-scale=0,1", "ip-preset=all,style")
    page.locator("#sweep-button").click()
    expect(page.locator("#sweep-button")).to_be_disabled()
    started = time.monotonic()
    patterns = (r"\d+/120 steps", r"Images 1–4 of 4, 4 cells at once")
    samples = progress_samples(page, "#sweep-note", "Seed 3131 for every cell", patterns, root="#sweep-grid")
    shown, count = share_during_run(samples)
    print(f"sweep progress visible in {shown} of {count} samples; done after {time.monotonic() - started:.1f} s")
    assert count >= 10 and shown >= 0.8 * count, f"progress visible in {shown} of {count} samples"
    expect(page.locator("#sweep-button")).to_be_enabled()
    expect(page.locator("#sweep-error")).to_be_hidden()
    expect(page.locator("#sweep-note")).to_contain_text("Seed 3131 for every cell; 4 cells.")
    download = page.locator("#sweep-files a[href*='.zip']").first  # every cell's PNG, with its settings
    expect(download).to_be_visible()
    archive = httpx.get(urljoin(page.url, download.get_attribute("href") or ""), timeout=30)
    assert archive.status_code == 200 and archive.content[:2] == b"PK", archive.status_code

    size = [ROW_LABELS + 2 * CELL, HEADER + 2 * CELL]
    for picture in ("#sweep-grid", "#sweep-differences"):
        drawn = shown_picture(page, picture)
        assert drawn["size"] == size and drawn["inside"] and drawn["uncovered"], (picture, drawn)
    cells = [(ROW_LABELS + column * CELL, HEADER + row * CELL, CELL, CELL) for row in (0, 1) for column in (0, 1)]
    assert all(5 < mean < 250 for mean in region_means(page, "#sweep-grid", cells)), "a cell is blank"
    off_all, on_all, off_style, _ = region_means(page, "#sweep-differences", cells)
    assert off_all == off_style == 0 and on_all > 0, "λ = 0 is black (no change), λ = 1 is not"

    plot = page.locator("#sweep-plot")
    expect(plot.locator("svg g.mark-line.role-mark path")).to_have_count(2)  # one line per Y value
    words = plot.locator("svg text").evaluate_all("texts => texts.map(text => text.textContent)")
    assert {"ip-scale", "ip-preset", "all", "style", "CLIP-I similarity"} <= set(words), words

    rows = page.locator("#sweep-table [role=row]").evaluate_all(
        "rows => rows.map(row => [...row.querySelectorAll('[role=columnheader], [role=gridcell]')]"
        ".map(cell => cell.innerText.trim()))"
    )
    assert rows[0] == ["X: ip-scale", "Y: ip-preset", "CLIP-I", "change vs λ=0", "time (s)"]
    assert [row[:2] for row in rows[1:]] == [["0", "all"], ["1", "all"], ["0", "style"], ["1", "style"]]
    assert all(-1 <= float(row[2]) <= 1 and float(row[4]) > 0 for row in rows[1:]), rows
    assert float(rows[1][3]) == 0 and float(rows[2][3]) > 0, rows
    page.screenshot(path=str(shots / "explore-tab.png"), full_page=True)


def stop_a_long_sweep(page) -> None:
    """Stop ends the bar and frees the engine: a short sweep right after answers with its own seed."""
    for elem_id, value in (("steps", 150), ("width", 320), ("height", 320)):
        set_slider(page, elem_id, value)
    set_axes(page, "ip-scale=0,0.5,1", "")
    page.locator("#sweep-button").click()
    progress = page.locator("#sweep-grid").get_by_text(re.compile(r"Images 1–3 of 3")).first
    expect(progress).to_be_visible()
    page.locator("#stop-sweep").click()
    stopped = time.monotonic()
    expect(progress).to_be_hidden()
    expect(page.locator("#sweep-button")).to_be_enabled()

    for elem_id, value in (("steps", 2), ("width", 64), ("height", 64)):
        set_slider(page, elem_id, value)
    page.locator("#seed input").fill("4343")
    set_axes(page, "ip-scale=0,1", "")
    page.locator("#sweep-button").click()
    expect(page.locator("#sweep-note")).to_contain_text("Seed 4343 for every cell; 2 cells.")
    print(f"a 2-cell sweep answered {time.monotonic() - stopped:.1f} s after Stop")


def show_the_injection_maps(page) -> None:
    set_slider(page, "ip_scale", 0)
    page.locator("#injection-button").click()
    message = "λ (image prompt weight) (under “IP-Adapter”): IP-Adapter is off"
    expect(page.locator("#injection-error")).to_contain_text(message)
    expect_error_toast(page, "IP-Adapter is off")

    for elem_id, value in (("ip_scale", 0.8), ("width", 128), ("height", 128)):
        set_slider(page, elem_id, value)
    page.locator("#injection-button").click()
    expect(page.locator("#injection-note")).to_contain_text("λ 0.8")
    drawn = shown_picture(page, "#injection-maps")
    assert drawn["size"] == list(MAPS) and drawn["inside"] and drawn["uncovered"], drawn
    tiles = [(column * 128, row * (22 + 128) + 22, 128, 128) for row in (0, 1) for column in range(4)]
    means = region_means(page, "#injection-maps", tiles)
    assert len({round(mean) for mean in means}) > 1, f"every tile alike: {means}"
    expect(page.locator("#injection-error")).to_be_hidden()


def on_a_phone(browser, url: str, shots: Path) -> None:
    """390×844: the axes one above the other, nothing wider than the screen, the refusal in view, the grid whole."""
    page = browser.new_page(viewport=PHONE)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector("#generate-button")
    add_reference(page)
    for elem_id, value in (("steps", 2), ("width", 64), ("height", 64)):
        set_slider(page, elem_id, value)
    page.get_by_role("tab", name="Explore").click()
    x_box, y_box = page.locator("#x_axis").bounding_box(), page.locator("#y_axis").bounding_box()
    assert y_box["y"] >= x_box["y"] + x_box["height"] - 1, (x_box, y_box)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    set_axes(page, "ip-scale=abc", "")
    page.locator("#sweep-button").click()
    expect(page.locator("#sweep-error")).to_contain_text("X axis: 'abc' is not a number")
    expect(page.locator("#sweep-error")).to_be_in_viewport(ratio=0.95)
    expect_error_toast(page, "X axis: 'abc' is not a number")
    set_axes(page, "ip-scale=0,1", "ip-preset=all,style")
    page.locator("#sweep-button").click()
    expect(page.locator("#sweep-note")).to_contain_text("4 cells")
    drawn = shown_picture(page, "#sweep-grid")
    assert drawn["inside"] and drawn["uncovered"] and drawn["shown"][0] <= PHONE["width"], drawn
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(shots / "explore-phone.png"), full_page=True)
    page.close()
