"""What the page says when a request is refused, progress, the busy button, and what an API caller sends."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from PIL import Image

from ipa_demo.metadata import save_png
from ipa_demo.settings import GenerationSettings, Limits, SettingsError
from ipa_demo.settings.parameters import format_parameters
from ipa_demo.ui.api import PlainFilesGalleryData, whole_numbers_only
from ipa_demo.ui.feedback import busy_while_running, in_words, places_of, request_check
from ipa_demo.ui.handlers import Handlers, follow
from ipa_demo.ui.outputs import OutputStore

from .test_app import ROOT
from .test_ui import FakeEngine, tiny_request


@pytest.fixture
def handlers(tmp_path: Path) -> Handlers:
    return Handlers(FakeEngine(), OutputStore(tmp_path / "out"), Limits())  # type: ignore[arg-type]


@pytest.fixture
def page() -> dict[str, Any]:
    """A few controls laid out as the app lays them out: some in an accordion, some not."""
    with gr.Blocks():
        prompt = gr.Textbox(label="Prompt")
        references = gr.Gallery(label="Reference image(s)")
        with gr.Accordion("Sampling", open=False) as sampling:
            width = gr.Slider(label="Width")
            scale = gr.Slider(label="λ (image prompt weight)")
    return {"fields": {"prompt": prompt, "reference_images": references, "width": width, "ip_scale": scale},
            "sampling": sampling}  # fmt: skip


def test_a_refusal_names_the_control_by_label_and_where_it_is(page: dict[str, Any]) -> None:
    places = places_of(page["fields"])
    message, param = in_words(SettingsError("width", "must be a multiple of 8, got 65"), places)
    assert (message, param) == ("Width (under “Sampling”): must be a multiple of 8, got 65", "width")
    message, _ = in_words(SettingsError("reference_images", "IP-Adapter needs one (or set ip_scale to 0)"), places)
    assert message == "Reference image(s): IP-Adapter needs one (or set “λ (image prompt weight)” to 0)"


class _Event:
    """Stands for the check's click event: records what ``open_flagged`` chains after it."""

    def then(self, fn: Any, **kwargs: Any) -> None:
        self.then_kwargs = kwargs


def test_the_check_explains_opens_the_accordion_and_raises_a_toast(page: dict[str, Any]) -> None:
    places = places_of(page["fields"])
    verdicts = {"ok": None, "bad": SettingsError("width", "must be a multiple of 8, got 65")}
    explain, flags, open_flagged = request_check(lambda values: verdicts[values["prompt"]], places)
    assert len(flags) == 1 and flags[0].visible is False  # the Sampling accordion's, for the page to open it
    check = _Event()
    open_flagged(check)
    assert check.then_kwargs["inputs"] == flags and check.then_kwargs["outputs"] == [page["sampling"]]

    (box, flag), *rest = list(explain(prompt="ok"))
    assert box["visible"] is False and flag is False and not rest

    run = explain(prompt="bad")
    assert next(run)[0] == {"__type__": "update", "value": "", "visible": False}  # so that showing is a change
    box, flag = next(run)
    assert box["visible"] is True and "Width (under “Sampling”)" in box["value"] and flag is True
    with pytest.raises(gr.Error, match="Width"):
        next(run)


def test_steps_are_shown_without_yields_and_each_heartbeat_repeats_the_last() -> None:
    """Gradio 6.31 clears the bar on a yield: steps are reported from the run, a heartbeat re-reports."""
    reported: list[tuple[int, int]] = []
    gate = threading.Event()

    def task(on_step):
        on_step(1, 3)
        on_step(2, 3)
        gate.wait(5)  # a silent phase: heartbeats only
        on_step(3, 3)
        return "result"

    def followed():
        result = yield from follow(task, lambda step, **_: reported.append(step), "Denoising", 2, heartbeat=0.05)
        assert result == "result"

    run = followed()
    assert next(run) == (gr.skip(), gr.skip())
    assert reported[0] == 0.0, "before the first step: preparing"
    assert reported[1:] == [(1, 3), (2, 3)], "steps shown without a yield"
    next(run)
    assert reported[1:4] == [(1, 3), (2, 3), (2, 3)], "once resumed after the yield, the last step again"
    gate.set()
    rest = list(run)
    assert reported[-1] == (3, 3) and len(rest) <= 2


def test_the_busy_button_is_disabled_first_and_the_run_is_closed_with_its_wrapper() -> None:
    closed = []

    def handler(steps: int):
        try:
            for step in range(steps):
                yield (step, "text")
        finally:
            closed.append(True)

    run = busy_while_running(handler, width=2)(5)
    assert next(run) == (gr.skip(), gr.skip(), {"__type__": "update", "interactive": False})
    assert next(run) == (0, "text", gr.skip())
    run.close()  # what Stop does
    assert closed == [True]


def test_handlers_check_refuses_a_control_image_nothing_uses(handlers: Handlers) -> None:
    house = str(ROOT / "assets" / "house-edges.png")
    error = handlers.check(tiny_request(control_image=house), comparing=False)
    assert error is not None and error.field == "control_image" and "both “none”" in str(error)
    assert handlers.check(tiny_request(control_image=house, controlnet="canny"), comparing=False) is None


def test_handlers_check_says_compare_needs_a_reference_whatever_lambda_is(handlers: Handlers) -> None:
    for ip_scale in (0.0, 0.7):
        error = handlers.check(tiny_request(ip_scale=ip_scale), comparing=True)
        assert error is not None and "Compare needs a reference image" in str(error) and "ip_scale" not in str(error)


def test_reuse_seed_takes_the_selected_images_seed(handlers: Handlers, tmp_path: Path) -> None:
    def made(seed: int) -> str:
        settings = GenerationSettings(prompt="a cat", seed=seed)
        text = format_parameters(settings, seed, ip_used=False, img2img=False)
        return str(save_png(Image.new("RGB", (8, 8)), tmp_path / f"{seed}.png", text))

    gallery = [(made(41), "seed 41"), (made(42), "seed 42")]
    assert handlers.seed_of_selected(gallery, 1) == 42
    assert handlers.seed_of_selected(gallery, None) == 41
    with pytest.raises(gr.Error, match="Generate an image first"):
        handlers.seed_of_selected(None, None)


def test_plain_files_become_gallery_items() -> None:
    data = PlainFilesGalleryData.model_validate(
        [{"path": "/up/a.png", "meta": {"_type": "gradio.FileData"}}, "/up/b.png", {"image": {"path": "/up/c.png"}}]
    )
    assert [item.image.path for item in data.root] == ["/up/a.png", "/up/b.png", "/up/c.png"]


def test_a_fractional_seed_reaches_the_validator_unrounded() -> None:
    with gr.Blocks():
        seed = whole_numbers_only(gr.Number(precision=0))
    assert seed.preprocess(1.5) == 1.5
    assert seed.preprocess(7.0) == 7 and seed.preprocess(None) is None
