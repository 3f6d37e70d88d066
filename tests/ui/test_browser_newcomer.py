"""A newcomer's first minutes, measured in a real browser (issue 27): Debian's chromium driven by
Playwright on ``python app.py`` with the tiny model set, at 1366×768 and 390×844, as in test_browser.

- WCAG 2.1 AA: axe-core finds no serious or critical violation on any tab, at both widths, in the
  light and the dark theme (with every accordion open); Tab reaches every control in reading order,
  each with a visible focus ring; Ctrl+Enter in the prompt generates.
- No silent corrections: 500 typed in Steps stays 500 and is refused by name, with the limit; a text
  file renamed .png is refused when it is uploaded, by the control's label.
- On a wide screen Generate and the results stay in view at "Sampling"; the phone keeps its order.
- The bar reads the total seconds, says what a run prepares, and shows in ≥ 95 % of the samples.
- No label, hint or note is cut short or covered, on a fresh page, with images and after a refusal.
Screenshots go where test_browser puts its own (``IPA_SCREENSHOTS``).
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from .test_browser import ASSETS, PHONE, TIMEOUT_MS, playwright, screenshot_folder, set_slider

from .browser_checks import (  # noqa: E402 (needs playwright)
    DESKTOP,
    WCAG_AA,
    cut_or_covered,
    in_viewport,
    opened_page,
    progress_samples,
    serious,
    share_during_run,
)

axe_module = pytest.importorskip("axe_playwright_python.sync_playwright", reason="axe-playwright-python")
expect = playwright.expect

WIDTHS = {"desktop": DESKTOP, "phone": PHONE}
open_page = partial(opened_page, timeout_ms=TIMEOUT_MS)


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("width", list(WIDTHS))
def test_axe_finds_no_serious_violation_on_any_tab(browser: Any, app_url: str, width: str, theme: str) -> None:
    """The Generate tab with the whole page (every setting shown), then Compare's and Explore's panels."""
    page = open_page(browser, app_url + ("?__theme=dark" if theme == "dark" else ""), WIDTHS[width], accordions=True)
    assert page.evaluate("document.body.classList.contains('dark')") == (theme == "dark")
    axe = axe_module.Axe()
    found = {"Generate": serious(axe.run(page, options=WCAG_AA).response)}
    for tab in ("Compare", "Explore"):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(300)
        found[tab] = serious(axe.run(page, context="#results", options=WCAG_AA).response)
    page.close()
    assert not any(found.values()), found


# Every control the keyboard can reach on screen: (its place in the page's order, a name to report).
_FOCUSABLE = """() => {
  const all = [...document.querySelectorAll(
    'input:not([type=hidden]):not([disabled]), textarea:not([disabled]), select, button:not([disabled]), [tabindex="0"]')];
  return all.filter(el => el.checkVisibility({visibilityProperty: true}) && el.getBoundingClientRect().width > 0
      && el.tabIndex >= 0 && !(el.type === 'radio' && !el.checked && document.querySelector(
        `input[type=radio][name="${el.name}"]:checked`)))
    .map(el => el.dataset.kbd = Math.random().toString(36).slice(2));
}"""
_ACTIVE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  return {id: el.dataset.kbd || null, radio: el.type === 'radio' ? el.name : null,
          ring: el.matches(':focus-visible') && style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
          name: el.getAttribute('aria-label') || el.textContent.trim().slice(0, 30) || el.id || el.tagName};
}"""


@pytest.mark.parametrize("width", list(WIDTHS))
def test_tab_reaches_every_control_in_order_with_a_visible_ring(browser: Any, app_url: str, width: str) -> None:
    page = open_page(browser, app_url, WIDTHS[width])
    order = page.evaluate(_FOCUSABLE)
    page.locator("#prompt textarea").focus()
    page.keyboard.press("Shift+Tab")  # from just before the prompt, as a user tabbing in from the top
    visited: list[dict[str, Any]] = []
    for _ in range(len(order) + 40):
        page.keyboard.press("Tab")
        active = page.evaluate(_ACTIVE)
        if active is None or (visited and active["id"] == order[0] and len(visited) > 5):
            break
        visited.append(active)
    page.close()
    reached = [item["id"] for item in visited if item["id"] in order]
    start = order.index(reached[0])
    missed = [index for index in order[start:] if index not in reached]
    assert not missed, f"{len(missed)} of {len(order) - start} controls never reached by Tab"
    positions = [order.index(index) for index in reached]
    assert positions == sorted(positions), "Tab left the reading order"
    no_ring = [item["name"] for item in visited if not item["ring"]]
    assert not no_ring, f"focus not visible on {no_ring[:5]}"
    print(f"{width}: Tab reached {len(reached)} controls in order, each with a focus ring")


def test_ctrl_enter_in_the_prompt_generates(browser: Any, app_url: str) -> None:
    page = open_page(browser, app_url, DESKTOP)
    set_slider(page, "ip_scale", 0)
    for elem_id, value in (("steps", 2), ("width", 64), ("height", 64)):
        set_slider(page, elem_id, value)
    page.locator("#seed input").fill("2727")
    page.locator("#prompt textarea").fill("a lighthouse")
    page.locator("#prompt textarea").press("Control+Enter")
    expect(page.locator("#used-seed input")).to_have_value("2727")
    assert page.locator("#prompt textarea").input_value() == "a lighthouse", "Ctrl+Enter added a line"
    page.close()


def test_a_value_out_of_range_is_kept_and_refused_naming_the_limit(browser: Any, app_url: str) -> None:
    page = open_page(browser, app_url, DESKTOP)
    set_slider(page, "ip_scale", 0)
    steps = page.locator("#steps input[type=number]")
    steps.fill("500")
    steps.press("Tab")  # Gradio's slider clamped the box to 150 when it lost focus
    expect(steps).to_have_value("500")
    page.locator("#generate-button").click()
    box = page.locator("#generate-error")
    expect(box).to_contain_text("Steps")
    assert "150" in box.inner_text(), box.inner_text()
    marked = page.locator("#steps .validation-error").first
    expect(marked).to_be_visible()
    assert "150" in marked.inner_text()
    expect(steps).to_have_value("500")
    page.close()


def test_a_file_that_is_no_image_is_refused_at_upload(browser: Any, app_url: str, tmp_path: Path) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("these are notes, not a picture")
    page = open_page(browser, app_url, DESKTOP)
    page.get_by_text("img2img", exact=True).click()
    for elem_id, label in (("init_image", "Init image"), ("reference_images", "Reference image(s)")):
        page.locator(f"#{elem_id} input[type=file]").set_input_files(str(fake))
        toast = page.locator(".toast-body", has_text=f"{label}").first
        expect(toast).to_be_visible()
        assert "notes.png cannot be read as an image" in toast.inner_text(), toast.inner_text()
        expect(page.locator(f"#{elem_id} img")).to_have_count(0)  # no blank thumbnail left behind
        for close in page.locator(".toast-close").all():
            close.click()
        expect(page.locator(".toast-body")).to_have_count(0)
    page.close()


def test_generate_and_results_stay_in_view_while_the_settings_scroll(browser: Any, app_url: str) -> None:
    """At "Sampling", ~2,500 px down, Generate, its bar and the images are on screen; on a phone the
    order stays prompt, references, examples, Generate and results, then the settings."""
    page = open_page(browser, app_url, DESKTOP)
    set_slider(page, "ip_scale", 0)
    for elem_id, value in (("steps", 40), ("width", 256), ("height", 256)):
        set_slider(page, elem_id, value)
    page.locator("#seed input").fill("4040")
    sampling = page.get_by_text("Sampling", exact=True)
    sampling.scroll_into_view_if_needed()
    scrolled = page.evaluate("scrollY")
    assert scrolled > 1500, scrolled
    for element in ("#generate-button", "#output-gallery", "#steps"):
        assert in_viewport(page, page.locator(element)), element
    page.locator("#generate-button").click()
    sampled = progress_samples(page, "#used-seed input", "4040", patterns=(r"\d+/40 steps", r"s in all"))
    print("".join("|" if shown else "." for shown in sampled))
    shown, samples = share_during_run(sampled)
    print(f"at Sampling (scrolled {scrolled} px): the bar showed in {shown} of {samples} samples")
    assert samples >= 10 and shown >= 0.95 * samples, (shown, samples)
    assert in_viewport(page, page.locator("#output-gallery img").first)
    page.close()

    phone = open_page(browser, app_url, PHONE)
    tops = [phone.locator(element).first.bounding_box()["y"] for element in (
        "#prompt", "#reference_images", "#examples", "#generate-button", "#output-gallery", "#settings")]  # fmt: skip
    assert tops == sorted(tops), tops
    prompt, button = tops[0], phone.locator("#generate-button").bounding_box()
    assert button["y"] + button["height"] - prompt <= PHONE["height"], "Generate within a screen of the prompt"
    phone.close()


def test_the_first_run_says_what_it_prepares(browser: Any, app_url: str) -> None:
    """Before its first step a run says it is preparing (loading models on the first run: this app's first
    run with a reference loads the IP-Adapter and its image encoder)."""
    page = open_page(browser, app_url, DESKTOP)
    page.locator("#reference_images input[type=file]").set_input_files(str(ASSETS / "chelsea.jpg"))
    page.wait_for_selector("#reference_images img")
    for elem_id, value in (("steps", 3), ("width", 64), ("height", 64)):
        set_slider(page, elem_id, value)
    page.locator("#seed input").fill("3131")
    page.evaluate(_RECORD_TEXTS, "#output-gallery")  # every text it shows, however briefly
    page.locator("#generate-button").click()
    expect(page.locator("#used-seed input")).to_have_value("3131")
    shown = page.evaluate("window.shownTexts")
    preparing = [text for text in shown if "Preparing: loading the models" in text]
    assert preparing, shown[:10]
    assert any(re.search(r"Denoising · \d+/3 steps · \d+\.\d s in all", text) for text in shown), shown[-10:]
    page.close()


_RECORD_TEXTS = """(root) => {
  window.shownTexts = [];
  new MutationObserver(() => {
    const text = document.querySelector(root).innerText.replace(/\\s+/g, ' ').trim();
    if (text !== window.shownTexts.at(-1)) window.shownTexts.push(text);
  }).observe(document.querySelector(root), {childList: true, subtree: true, characterData: true});
}"""


@pytest.mark.parametrize("width", list(WIDTHS))
def test_no_label_is_cut_or_covered(browser: Any, app_url: str, width: str, tmp_path: Path) -> None:
    """Every setting shown; then a refusal marks the reference gallery; then images in both pickers."""
    shots = screenshot_folder(tmp_path)
    page = open_page(browser, app_url, WIDTHS[width], accordions=True)
    states = {"fresh": cut_or_covered(page)}
    page.locator("#generate-button").click()  # λ 0.7 and no reference: the gallery is marked
    expect(page.locator("#reference_images .validation-error")).to_be_visible()
    for close in page.locator(".toast-close").all():
        close.click()
    states["refused"] = cut_or_covered(page)
    page.locator("#reference_images input[type=file]").set_input_files(str(ASSETS / "chelsea.jpg"))
    page.locator("#init_image input[type=file]").set_input_files(str(ASSETS / "rocket.jpg"))
    page.wait_for_selector("#reference_images img")
    page.wait_for_selector("#init_image img")
    states["with images"] = cut_or_covered(page)
    page.screenshot(path=str(shots / f"labels-{width}.png"), full_page=True)
    page.close()
    for state, found in states.items():
        print(f"{width}, {state}: {found['checked']} texts checked")
        assert found["checked"] > 100, state
        assert not found["truncated"], (state, found["truncated"])
        assert not found["overlaps"], (state, found["overlaps"])
