"""The web app in-process: request parsing, helper events, Stop, and isolation between sessions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass, field, replace
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from ipa_demo.architecture.layers import MASK_PRESETS, NUM_LAYERS
from ipa_demo.metadata import save_png
from ipa_demo.settings import Limits, SettingsError
from ipa_demo.settings.declarations import IMAGE_PARAMS
from ipa_demo.settings.parameters import format_parameters
from ipa_demo.settings.values import PARAMS, default_values, param_for_field, settings_from_values, values_from_settings
from ipa_demo.ui import fields as ui_fields
from ipa_demo.ui.app import create_app, launch_options
from ipa_demo.ui.examples import EXAMPLES
from ipa_demo.ui.fields import bits_from_mask, mask_from_bits, parse_request, preset_of
from ipa_demo.ui.handlers import Handlers, compare_seconds, generate_seconds, validation_for
from ipa_demo.ui.outputs import OutputStore
from ipa_demo.ui.runner import SWITCHES

from ..every_setting import EVERY_SETTING_SET
from ..helpers import noise_image
from .test_app import served



def tiny_request(**overrides: Any) -> dict[str, Any]:
    values = default_values()
    values.update(prompt="a red bicycle", steps=2, width=64, height=64, seed=3, ip_scale=0.0)
    values.update(overrides)
    return values


# -- request parsing: pure functions --


def test_values_and_settings_round_trip() -> None:
    values = values_from_settings(EVERY_SETTING_SET)
    assert settings_from_values(values, seed=EVERY_SETTING_SET.seed) == EVERY_SETTING_SET
    assert set(values) | set(IMAGE_PARAMS) == set(PARAMS)


def test_sliders_floats_become_whole_numbers_but_fractions_are_errors() -> None:
    values = tiny_request(steps=4.0, width=64.0)
    assert settings_from_values(values, seed=1).steps == 4
    with pytest.raises(SettingsError) as error:
        settings_from_values(tiny_request(steps=4.5), seed=1)
    assert error.value.field == "steps"


@pytest.mark.parametrize(
    ("field_name", "parameter"),
    [("ip_stage_up2", "ip_stage_up2"), ("control_is_map", "control_is_map"), ("width", "width"), ("device", None)],
)
def test_each_settings_error_names_an_api_parameter(field_name: str, parameter: str | None) -> None:
    assert param_for_field(field_name) == parameter


def test_validation_marks_only_the_bad_parameter() -> None:
    response = validation_for(SettingsError("ip_stage_mid", "must be between 0 and 3, got -1"))
    bad = [(name, item["message"]) for name, item in zip(PARAMS, response) if not item["is_valid"]]
    assert bad == [("ip_stage_mid", "must be between 0 and 3, got -1")]


def test_request_reads_images_and_checks_limits(tmp_path: Path, reference: Image.Image) -> None:
    path = tmp_path / "ref.png"
    reference.save(path)
    request = parse_request(tiny_request(ip_scale=0.5, reference_images=[(str(path), None)]), Limits())
    assert len(request.references) == 1 and request.references[0].mode == "RGB"
    with pytest.raises(SettingsError, match="width: at most 64"):
        parse_request(tiny_request(width=128), Limits(max_side=64))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    with pytest.raises(SettingsError) as error:
        parse_request(tiny_request(control_image=str(broken)), Limits())
    assert error.value.field == "control_image"


def test_an_upload_is_decoded_once_for_validator_and_handler(tmp_path: Path, monkeypatch) -> None:
    decoded: list[str] = []
    real_load = ui_fields.load_image
    monkeypatch.setattr(ui_fields, "load_image", lambda path, name: decoded.append(name) or real_load(path, name))
    path = tmp_path / "init.png"
    noise_image(64, 64, seed=3).save(path)
    values = tiny_request(init_image=str(path))
    first, second = parse_request(values, Limits()), parse_request(values, Limits())
    assert decoded == ["init_image"] and np.array_equal(np.asarray(first.init_image), np.asarray(second.init_image))
    noise_image(64, 72, seed=4).save(path)  # the same path, another image: decoded anew
    assert parse_request(values, Limits()).init_image.size == (64, 72) and decoded == ["init_image"] * 2
    monkeypatch.setenv("IPA_MAX_IMAGE_PIXELS", "100")  # a limit that changed is checked again
    with pytest.raises(SettingsError, match="megapixels"):
        parse_request(values, Limits())


def test_random_seed_is_drawn_once() -> None:
    first = parse_request(tiny_request(seed=-1), Limits()).settings.seed
    assert 0 <= first < 2**32
    assert parse_request(tiny_request(seed=-1), Limits(), seed=17).settings.seed == 17


def test_mask_toggles_and_presets() -> None:
    style = MASK_PRESETS["style"]
    assert mask_from_bits(bits_from_mask(style) or []) == style
    assert bits_from_mask("0101") is None and bits_from_mask("2" * NUM_LAYERS) is None
    assert preset_of(style) == "style" and preset_of("1" + "0" * (NUM_LAYERS - 1)) is None


def test_every_example_is_a_complete_valid_request() -> None:
    for example in EXAMPLES:
        values = example.values()
        assert set(values) == set(PARAMS)
        request = parse_request(values, Limits())
        assert request.settings == example.settings, example.label
        assert len(request.references) == len(example.references)
        assert (request.control_image is not None) == (example.control_image is not None)
        assert (request.init_image is not None) == (example.init_image is not None)


# -- helper events --


class FakeEngine:
    """Answers like the engine, instantly: one flat colour per image."""

    def generate(
        self, settings, references=(), init_image=None, control_image=None, on_step=None, mask_image=None, more=None,
        units=None,
    ):
        self.last_units = (settings, units)  # what the further units reached the engine as
        for step in range(settings.steps):
            if on_step:
                on_step(step + 1, settings.steps)
        images = [
            Image.new("RGB", (settings.width, settings.height), (seed % 256, 0, 0)) for seed in settings.image_seeds
        ]
        parameters = [
            format_parameters(settings, seed, ip_used=settings.ip.is_active, img2img=False)
            for seed in settings.image_seeds
        ]
        return FakeResult(images, settings.image_seeds, parameters)


@dataclass
class FakeResult:
    images: list[Image.Image]
    seeds: tuple[int, ...]
    parameters: list[str]
    warnings: tuple[str, ...] = ()
    control_maps: dict[str, Image.Image] = field(default_factory=dict)


@pytest.fixture
def handlers(tmp_path: Path) -> Handlers:
    return Handlers(FakeEngine(), OutputStore(tmp_path / "out"), Limits())  # type: ignore[arg-type]


def test_loading_a_png_restores_every_control(handlers: Handlers, tmp_path: Path) -> None:
    path = save_png(Image.new("RGB", (8, 8)), tmp_path / "made.png", format_parameters(
        EVERY_SETTING_SET, EVERY_SETTING_SET.seed, ip_used=True, ip2_used=True, img2img=True))  # fmt: skip
    restored = dict(zip([*PARAMS, "png_text"], handlers.load_png(str(path))))
    wanted = values_from_settings(EVERY_SETTING_SET)
    for name in PARAMS:
        if name in ("reference_masks", "ip2_masks"):  # in the text (test_reference_settings); none here: cleared
            assert restored[name] is None
        elif name in IMAGE_PARAMS:
            assert restored[name] == gr.skip(), "a PNG's text does not hold the images"
        elif name == "num_images":
            assert restored[name] == gr.skip(), "a PNG is one image of its batch: the user's Images count stays"
        elif name == "base_model":  # the PNG's model is not one of this fake engine's: the page keeps its own
            assert restored[name] == gr.skip()
        else:
            assert restored[name] == wanted[name], name


def test_loading_a_png_without_parameters_is_a_clear_error(handlers: Handlers, tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(path)
    with pytest.raises(gr.Error, match="carries no generation parameters"):
        handlers.load_png(str(path))


def test_generate_handler_saves_pngs_and_pairs_the_reference(handlers: Handlers, tmp_path: Path) -> None:
    reference = tmp_path / "ref.png"
    Image.new("RGB", (100, 50), "blue").save(reference)
    request = tiny_request(ip_scale=0.5, num_images=2, reference_images=[(str(reference), None)])
    *_, (gallery, seed, slider, maps, text) = handlers.generate(gr.Progress(), **request)
    assert [caption for _, caption in gallery] == ["seed 3", "seed 4"]
    assert Image.open(gallery[1][0]).info["parameters"].count("Seed: 4,") == 1
    before, after = slider
    assert Image.open(before).size == Image.open(after).size == (64, 64)
    assert seed == 3 and maps == [] and "Seed: 3," in text


def test_gallery_actions_use_the_selected_image(handlers: Handlers) -> None:
    gallery = [("/tmp/a.png", "seed 1"), ("/tmp/b.png", "seed 2")]
    assert handlers.use_as_init(gallery, 1) == "/tmp/b.png"
    assert handlers.use_as_init(gallery, None) == "/tmp/a.png"
    assert handlers.use_as_reference(gallery, 1, [("/tmp/r.png", None)]) == ["/tmp/r.png", "/tmp/b.png"]
    with pytest.raises(gr.Error):
        handlers.use_as_init([], None)


# -- the app served in-process, driven by gradio_client --


class ProbeEngine:
    """The real engine, recording when steps run, when calls return and how many overlap."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.step_times: list[float] = []
        self.returned_at: list[float] = []
        self.active = 0
        self.most_active = 0
        self._lock = threading.Lock()

    def generate(
        self, settings, references=(), init_image=None, control_image=None, on_step=None, mask_image=None, more=None,
        units=None,
    ):
        def stepped(done: int, total: int) -> None:
            self.step_times.append(time.monotonic())
            if on_step is not None:
                on_step(done, total)

        with self._lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            return self.engine.generate(
                settings, references, init_image, control_image, on_step=stepped, mask_image=mask_image
            )
        finally:
            with self._lock:
                self.active -= 1
                self.returned_at.append(time.monotonic())


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def api_request(**overrides: Any) -> dict[str, Any]:
    return {"prompt": "a red bicycle", "steps": 2, "width": 64, "height": 64, "seed": 3, "ip_scale": 0.0, **overrides}


def test_stop_frees_the_engine_within_two_steps_and_the_next_run_works(engine, monkeypatch) -> None:
    """Counted in steps from the moment the cancel reached the server's stop switches, not in seconds from
    the client's call: on two loaded cores the cancel's own round trip once took longer than two steps."""
    probe = ProbeEngine(engine)
    stops: list[int] = []  # steps done when a cancel had flipped the switches
    flip = SWITCHES.stop

    def recorded_stop(session: str) -> None:
        flip(session)
        stops.append(len(probe.step_times))

    monkeypatch.setattr(SWITCHES, "stop", recorded_stop)
    with served(create_app(probe, with_examples=False), **launch_options()) as url:  # as app.py serves it
        client = Client(url, verbose=False)
        job = client.submit(**api_request(steps=150, width=384, height=384), api_name="/generate")
        wait_for(lambda: len(probe.step_times) >= 4 or job.done(), 120, "the long run's first steps")
        assert not job.done(), job.exception()
        job.cancel()  # what the Stop button does: POST /cancel for this event
        wait_for(lambda: probe.active == 0, 60, "the engine to be free")
        assert stops, "the cancel never reached the stop switches (the run ended some other way)"
        after = len(probe.step_times) - stops[0]
        print(f"{stops[0]} steps when the cancel reached the server, {after} after it")
        assert after <= 1, f"{after} steps ran after the Stop reached the server: at most the one in progress may"
        assert len(probe.step_times) < 40

        gallery, used_seed, *_ = client.predict(**api_request(seed=8), api_name="/generate")
        assert used_seed == 8 and Image.open(gallery[0]["image"]).size == (64, 64)


def test_concurrent_sessions_never_see_each_others_settings(engine, tmp_path: Path) -> None:
    reference = tmp_path / "ref.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 256, (72, 96, 3), dtype=np.uint8)).save(reference)
    upload = [{"image": handle_file(str(reference))}]
    requests = [
        api_request(reference_images=upload, steps=4, ip_scale=scale, ip_layers=MASK_PRESETS[preset], seed=seed)
        for scale, preset, seed in (
            (0.3, "all", 1),
            (1.5, "style", 2),
            (0.9, "composition", 3),
            (2.5, "style+composition", 4),
        )
    ]
    requests[2]["ip_stage_down2"] = 0.4

    def pixels(result: tuple[Any, ...]) -> np.ndarray:
        return np.asarray(Image.open(result[0][0]["image"]))

    probe = ProbeEngine(engine)
    with served(create_app(probe, concurrency=4, with_examples=False)) as url:
        # One browser session each; a minute per read, as four runs at once on two busy cores took over 5 s.
        clients = [Client(url, verbose=False, httpx_kwargs={"timeout": 60}) for _ in requests]
        jobs = [client.submit(**request, api_name="/generate") for client, request in zip(clients, requests)]
        together = [pixels(job.result(timeout=120)) for job in jobs]
        assert probe.most_active >= 2, "the four requests should have run at the same time"
        one_at_a_time = [pixels(clients[0].predict(**request, api_name="/generate")) for request in requests]
    for index, (mixed, alone) in enumerate(zip(together, one_at_a_time)):
        assert np.array_equal(mixed, alone), f"request {index} changed when it ran beside the others"
    assert not np.array_equal(together[0], together[1])


def test_gpu_events_share_one_bounded_queue(engine) -> None:
    demo = create_app(FakeEngine(), queue_size=5, with_examples=False)  # type: ignore[arg-type]
    public = ("generate", "inpaint", "compare", "sweep", "injection_maps")
    gpu = [fn for fn in demo.fns.values() if fn.api_name in public]
    assert {fn.concurrency_id for fn in gpu} == {"gpu"} and len(gpu) == len(public)
    assert all(fn.validator is not None for fn in gpu)
    assert demo._queue.max_size == 5
    helpers = [fn for fn in demo.fns.values() if fn.api_name not in public and fn.fn is not None]
    assert helpers and all(fn.api_visibility == "private" for fn in helpers)


def test_replace_keeps_settings_frozen() -> None:
    """Settings are values: a handler cannot leak a change into another request's object."""
    settings = settings_from_values(tiny_request(), seed=1)
    with pytest.raises(FrozenInstanceError):
        settings.steps = 5  # type: ignore[misc]
    assert replace(settings, steps=5).steps == 5 and settings.steps == 2


def test_zerogpu_durations_grow_with_the_work() -> None:
    small, large = tiny_request(), tiny_request(steps=40, width=512, height=512, num_images=2)
    assert generate_seconds(**small) <= generate_seconds(**large)
    assert compare_seconds(**large) > generate_seconds(**large)
    assert generate_seconds(**tiny_request(steps="many")) > 0, "a bad request still gets a duration"
