"""What the browser test measures on the page: toasts, what is in view, progress, whole images; and the
set-up the walks share (a module's browser, a page opened and ready, axe-core's verdict)."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

DESKTOP = {"width": 1366, "height": 768}
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
OPEN_EVERY_ACCORDION = "document.querySelectorAll('button.label-wrap:not(.open)').forEach(b => b.click())"


@contextmanager
def launched_chromium(executable: Path, args: Sequence[str]) -> Iterator[Browser]:
    """One browser for a module's walks (a module fixture yields it)."""
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(executable), args=list(args))
        yield browser
        browser.close()


def opened_page(browser: Browser, url: str, viewport: dict[str, int], *, timeout_ms: int, accordions: bool = False) -> Page:
    """A new page at ``url``, once Generate shows; ``accordions``: with every accordion open."""
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(timeout_ms)
    page.goto(url)
    page.wait_for_selector("#generate-button")
    if accordions:
        for _ in range(3):  # nested ones show once their parent is open
            page.evaluate(OPEN_EVERY_ACCORDION)
            page.wait_for_timeout(300)
    return page


def serious(results: dict[str, Any]) -> list[str]:
    """axe-core's serious and critical violations, each with the first places it found."""
    return [
        f"{violation['id']} ({violation['impact']}): {[node['target'] for node in violation['nodes'][:3]]}"
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]

# Samples every 100 ms, in the page, whether for every one of ``patterns`` a visible element under
# ``root`` shows text matching it (the smallest such element, so a visible container does not count for
# a hidden child), until the element ``done`` (a selector) has the value ``value`` (an input) or shows
# it among its text (any other element), or two minutes pass.
_SAMPLE_PROGRESS = """async ([root, patterns, done, value]) => {
  const res = patterns.map(pattern => new RegExp(pattern)), samples = [], started = performance.now();
  const shown = re => [...document.querySelectorAll(`${root} *`)].some(el =>
    re.test(el.textContent) && ![...el.children].some(child => re.test(child.textContent))
    && el.checkVisibility({opacityProperty: true, visibilityProperty: true}));
  const finished = () => {
    const el = document.querySelector(done);
    return el !== null && ('value' in el ? el.value === value : el.textContent.includes(value));
  };
  while (!finished() && performance.now() - started < 120000) {
    samples.push(res.every(shown));
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  return samples;
}"""

# For each image in a gallery: is all of it drawn, inside the gallery's visible box? With
# object-fit "contain" the drawn picture is the image scaled to fit its element, centred.
_ALL_LOADED = """(root) => {
  const images = [...document.querySelectorAll(root + ' img')];
  return images.length > 0 && images.every(img => img.complete && img.naturalWidth > 0);
}"""
_WHOLE_IMAGES = """(root) => {
  const gallery = document.querySelector(root);
  const box = (gallery.querySelector('.grid-wrap') || gallery).getBoundingClientRect();
  return [...gallery.querySelectorAll('img')].map(img => {
    const r = img.getBoundingClientRect(), fit = getComputedStyle(img).objectFit;
    const scale = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
    const w = img.naturalWidth * scale, h = img.naturalHeight * scale;
    const left = r.left + (r.width - w) / 2, top = r.top + (r.height - h) / 2;
    const contained = fit === 'contain' || fit === 'scale-down'
      || Math.abs(r.width / r.height - img.naturalWidth / img.naturalHeight) < 0.02;
    const inside = left >= box.left - 1 && top >= box.top - 1 && left + w <= box.right + 1 && top + h <= box.bottom + 1;
    return {src: img.src.slice(-40), fit, contained, inside, loaded: img.naturalWidth > 0};
  });
}"""


def in_viewport(page: Page, locator: Locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None
    return box["y"] >= -1 and box["y"] + box["height"] <= size["height"] + 1  # sub-pixel rounding


def expect_error_toast(page: Page, text: str) -> None:
    """A red toast with ``text``, in view wherever the page is scrolled; then every toast is closed."""
    toast = page.locator(".toast-body", has_text=text).first
    expect(toast).to_be_visible()
    assert "Error" in toast.inner_text() and in_viewport(page, toast), toast.inner_text()
    # A click as the event itself: a stack of toasts moves while one closes, and a toast sliding over the
    # next close button made a pointer click wait out its timeout. A toast may also close by itself meanwhile.
    closes = page.locator(".toast-close")
    for _ in range(20):
        if not closes.count():
            break
        try:
            closes.first.dispatch_event("click", timeout=2000)
        except PlaywrightTimeout:  # it closed by itself between the count and the click
            pass
    expect(page.locator(".toast-body")).to_have_count(0)


def progress_samples(
    page: Page, done: str, value: str, patterns: tuple[str, ...] = (r"\d+/30 steps",), root: str = "#output-gallery"
) -> list[bool]:
    return page.evaluate(_SAMPLE_PROGRESS, [root, list(patterns), done, value])


def share_during_run(samples: list[bool]) -> tuple[int, int]:
    """(samples showing progress, samples) from the first to the last that showed it: the steps' span."""
    shown = [index for index, visible in enumerate(samples) if visible]
    assert shown, "the progress never showed"
    window = samples[shown[0] : shown[-1] + 1]
    return sum(window), len(window)


def cropped_images(page: Page, root: str) -> list[dict[str, Any]]:
    """The images of gallery ``root`` that are not drawn whole inside the gallery's box."""
    page.wait_for_function(_ALL_LOADED, arg=root)  # a busy machine decodes the last image late
    images = page.evaluate(_WHOLE_IMAGES, root)
    assert images and all(image["loaded"] for image in images), f"{root}: no image to check ({images})"
    return [image for image in images if not (image["contained"] and image["inside"])]


# An output image as the page draws it: loaded, its natural size, its drawn box inside the component,
# and whether Gradio's label (laid over the component's top left) leaves the picture uncovered.
_PICTURE = """(root) => {
  const block = document.querySelector(root), img = block.querySelector('img');
  if (!img || !img.complete || img.naturalWidth === 0) return null;
  const box = block.getBoundingClientRect(), r = img.getBoundingClientRect();
  const label = block.querySelector('label[data-testid=block-label]');
  const scale = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
  const top = r.top + (r.height - img.naturalHeight * scale) / 2;
  return {size: [img.naturalWidth, img.naturalHeight], shown: [r.width, r.height],
          inside: r.left >= box.left - 1 && r.right <= box.right + 1
            && r.top >= box.top - 1 && r.bottom <= box.bottom + 1,
          uncovered: !label || label.getBoundingClientRect().bottom <= top + 1};
}"""

# Mean brightness (0-255) of regions [x, y, w, h] of an output image, in its own pixels, read back from
# the image the page loaded.
_MEANS = """([root, regions]) => {
  const img = document.querySelector(root + ' img'), canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const context = canvas.getContext('2d');
  context.drawImage(img, 0, 0);
  return regions.map(([x, y, w, h]) => {
    const data = context.getImageData(x, y, w, h).data;
    let sum = 0;
    for (let i = 0; i < data.length; i += 4) sum += data[i] + data[i + 1] + data[i + 2];
    return sum / (data.length / 4) / 3;
  });
}"""


def shown_picture(page: Page, root: str) -> dict[str, Any]:
    """The image of output ``root`` once loaded: size, drawn size, inside its box, not under its label."""
    page.wait_for_function(f"({_PICTURE})({root!r}) !== null")
    return page.evaluate(_PICTURE, root)


def region_means(page: Page, root: str, regions: list[tuple[int, int, int, int]]) -> list[float]:
    return page.evaluate(_MEANS, [root, [list(region) for region in regions]])


# Every label, hint, slider end, button, tab and note on screen that is cut short (its text wider than
# its box, or its box outside a clipping ancestor), and every label, hint or note whose box intersects
# a picture, canvas, toolbar, upload text, button or other label (not its own parts) by over 1 px.
_CUT_OR_COVERED = r"""() => {
  const visible = el => el.checkVisibility({opacityProperty: true, visibilityProperty: true})
    && el.getClientRects().length > 0 && el.getBoundingClientRect().width > 1;
  const named = el => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} "${(el.textContent || el.getAttribute('aria-label') || '').trim().replace(/\s+/g, ' ').slice(0, 40)}"`;
  // Text a user reads: labels, hints, slider ends, buttons, tabs, notes.
  const texts = [...document.querySelectorAll(
    '[data-testid=block-label], [data-testid=block-info], [data-testid=block-title], .info-text, .min_value, .max_value, '
    + 'button, [role=tab], .validation-error, .caption-label, .error-box p, [data-testid=upload-text] span')]
    .filter(el => visible(el) && el.textContent.trim() && !el.closest('.sr-only, .hide-label'));
  const truncated = [];
  for (const el of texts) {
    const style = getComputedStyle(el);
    if (style.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1) { truncated.push(named(el) + ' (cut inside)'); continue; }
    const box = el.getBoundingClientRect();
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const s = getComputedStyle(up);
      if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
      const r = up.getBoundingClientRect();
      const cutX = s.overflowX !== 'visible' && (box.left < r.left - 1 || box.right > r.right + 1) && up.scrollWidth <= up.clientWidth + 1;
      const cutY = s.overflowY !== 'visible' && (box.top < r.top - 1 || box.bottom > r.bottom + 1) && up.scrollHeight <= up.clientHeight + 1;
      if (cutX || cutY) { truncated.push(named(el) + ` (cut by ${named(up).slice(0, 30)})`); break; }
    }
  }
  // What a label must not lie on, nor lie under: pictures, icons, toolbars, other text.
  const content = [...document.querySelectorAll('img, canvas, .icon-button-wrapper, [data-testid=upload-text], .icon-wrap, .validation-error, '
    + '[data-testid=block-label], [data-testid=block-info], .info-text, button:not(.upload-container)')]
    .filter(el => visible(el) && !el.closest('.toast-body'));  // toasts float over everything, then go
  // Left out, and said so in issue 27: an image editor's own label, which stays where Gradio lays it (moved into
  // the flow, the editor's canvas mapped the pointer wrongly and a painted stroke was lost), under its toolbar.
  const labels = texts.filter(el => el.matches('[data-testid=block-label], [data-testid=block-info], [data-testid=block-title], .info-text, .validation-error')
    && !(el.matches('[data-testid=block-label]') && el.closest('.block:has(.pixi-target)')));
  const overlaps = [];
  for (const a of labels) for (const b of content) {
    if (a === b || a.contains(b) || b.contains(a)) continue;
    const r = a.getBoundingClientRect(), s = b.getBoundingClientRect();
    const w = Math.min(r.right, s.right) - Math.max(r.left, s.left), h = Math.min(r.bottom, s.bottom) - Math.max(r.top, s.top);
    if (w > 1 && h > 1) overlaps.push(`${named(a)} × ${named(b)} (${Math.round(w)}×${Math.round(h)})`);
  }
  return {checked: texts.length, truncated, overlaps};
}"""


def cut_or_covered(page: Page) -> dict[str, Any]:
    """{"checked": texts checked, "truncated": [...], "overlaps": [...]} on the page as it is now."""
    return page.evaluate(_CUT_OR_COVERED)


def expect_editor_shows_picture(editor: Locator) -> None:
    """Wait until an ImageEditor has set an uploaded picture as its canvas: Gradio 6.31 drops the empty
    placeholder when it reads the file, then fits the zoom to the picture and selects the brush, whose
    options ("Brush Size") show only then. A stroke before that may land on no picture."""
    expect(editor.locator(".empty")).to_have_count(0)
    expect(editor.get_by_role("button", name="Brush Size")).to_be_visible()
    # Under load the zoom can still be fitting: a stroke placed from the canvas's box would then land
    # elsewhere on the picture. Wait until the box and the zoom read the same twice, 300 ms apart.
    canvas, zoom = editor.locator(".pixi-target canvas"), editor.get_by_text("%", exact=False)
    last = None
    for _ in range(40):
        now = (canvas.bounding_box(), zoom.first.inner_text() if zoom.count() else "")
        if now == last:
            return
        last = now
        editor.page.wait_for_timeout(300)
    raise AssertionError(f"the editor's canvas never settled: {last}")


def paint_a_band(page: Page, picture: Path) -> None:
    """Upload the picture into the tab's editor, then one zigzag stroke down the canvas's middle."""
    page.locator("#inpaint_image input[type=file]").set_input_files(str(picture))
    # A stroke before the editor holds the picture sends no background ("upload the picture first"); the
    # picture stays in the browser until the click, so the page's editor is the signal, not a request.
    editor = page.locator("#inpaint_image")
    expect_editor_shows_picture(editor)
    zigzag(page, editor, across=(-30, 30), down=(-60, 60))


def zigzag(page: Page, editor: Locator, across: tuple[int, int], down: tuple[int, int]) -> None:
    """One brush stroke on the editor's canvas: rows 4 px apart, each from side to side; ``across`` and
    ``down`` are offsets in screen pixels from the canvas's middle."""
    box = editor.locator(".pixi-target canvas").bounding_box()
    assert box is not None
    middle_x, middle_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    left, right = middle_x + across[0], middle_x + across[1]
    page.mouse.move(left, middle_y + down[0])
    page.mouse.down()
    for row, y in enumerate(range(int(middle_y) + down[0], int(middle_y) + down[1], 4)):
        page.mouse.move(left if row % 2 else right, y)  # the brush is wider than the rows are apart
        page.mouse.move(right if row % 2 else left, y)
    page.mouse.up()


def save_screenshot(shot: bytes, path: Path, colours: int = 256) -> None:
    """A screenshot as a small PNG for the README: quantised to ``colours`` (a page's flat UI keeps its look;
    a noise image loses what a tiny model's noise never had)."""
    with Image.open(io.BytesIO(shot)) as image:
        image.convert("RGB").quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            path, optimize=True
        )
