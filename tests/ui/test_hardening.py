"""The served app against hostile or careless callers: bad files and values, crowds, faults, file theft.

One app on the tiny models serves the module, launched as app.py launches it (``launch_options``)
with a 1 MB upload limit and four generations at a time. Every refusal must name the parameter,
carry no traceback or server path, and leave the server able to serve the next request.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError, ValidationError
from gradio_client.utils import QueueError, Status
from PIL import Image

from ipa_demo.architecture.layers import MASK_PRESETS
from ipa_demo.errors import CheckpointError, MissingModelError, ModelLoadError, OutOfMemoryError
from ipa_demo.images import ImageInputError, load_image
from ipa_demo.metadata import read_png_parameters
from ipa_demo.models.catalog import CONTROLNETS, IP_ADAPTERS, T2I_ADAPTERS
from ipa_demo.models.catalog_sdxl import SDXL_IP_ADAPTERS
from ipa_demo.schedulers import SCHEDULER_NAMES
from ipa_demo.settings import CONTROLNET_KINDS, IP_VARIANTS, T2I_KINDS, GenerationSettings, Limits, SettingsError
from ipa_demo.settings.declarations import IMAGE_PARAMS
from ipa_demo.settings.values import PARAMS, default_values, settings_from_values
from ipa_demo.ui.app import create_app, launch_options
from ipa_demo.ui.controls import build_controls
from ipa_demo.ui.errors import INTERNAL_ERROR, described, reported_errors
from ipa_demo.ui.handlers import Handlers
from ipa_demo.ui.outputs import OutputStore

from ..bad_images import BAD, GOOD, REASONS, write_corpus
from .test_app import ROOT, app_module, served, small
from .test_ui import FakeEngine, ProbeEngine, wait_for

UPLOAD_LIMIT_MB = 1
CONCURRENCY = 4
LEAKS = re.compile(r"Traceback|File \"|\.py\b|/tmp/|/gradio/|[A-Z][A-Za-z]+(Error|Exception)\b")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def probe(engine) -> ProbeEngine:
    return ProbeEngine(engine)


@pytest.fixture(scope="module")
def app_url(probe: ProbeEngine) -> Iterator[str]:
    demo = create_app(probe, concurrency=CONCURRENCY, with_examples=False)  # type: ignore[arg-type]
    with served(demo, **launch_options(UPLOAD_LIMIT_MB)) as url:
        yield url


@pytest.fixture(scope="module")
def client(app_url: str) -> Client:
    return Client(app_url, verbose=False)


def references(*paths: Path) -> list[dict[str, Any]]:
    return [{"image": handle_file(str(path))} for path in paths]


def generate(client: Client, **request: Any) -> tuple[Any, ...]:
    """/generate with a deadline: a request that hangs the server fails the test instead."""
    return client.submit(**request, api_name="/generate").result(timeout=120)


def refusal(client: Client, error: type[Exception], **request: Any) -> str:
    with pytest.raises(error) as caught:
        generate(client, **request)
    message = str(caught.value)
    assert not LEAKS.search(message), f"internal detail reaches the caller: {message}"
    return message


def still_serves(client: Client) -> None:
    gallery, used_seed, *_ = generate(client, **small(seed=5))
    assert used_seed == 5 and Image.open(gallery[0]["image"]).size == (64, 64)


def expected_settings(request: dict[str, Any]) -> GenerationSettings:
    """What the app must make of an API request: every parameter not given keeps its default."""
    values = {**default_values(), **{name: value for name, value in request.items() if name not in IMAGE_PARAMS}}
    return settings_from_values(values, seed=values["seed"])


def pixels(gallery: list[dict[str, Any]]) -> list[np.ndarray]:
    return [np.asarray(Image.open(item["image"])) for item in gallery]


def call_raw(url: str, **overrides: Any) -> httpx.Response:
    """POST /generate as plain JSON, which gradio_client cannot send (NaN) or would upload (local paths)."""
    values = {**default_values(), **small(), **overrides}
    body = json.dumps({"data": [values[name] for name in PARAMS]})  # NaN and Infinity are written as such
    return httpx.post(f"{url}gradio_api/call/generate",
                      timeout=60, content=body, headers={"content-type": "application/json"})


# -- 1. the bad-input corpus and bad values, through the API --


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_are_refused_by_name_and_the_server_carries_on(client: Client, corpus, name: str) -> None:
    for parameter, upload in (
        ("reference_images", {"reference_images": references(corpus[name]), "ip_scale": 0.5}),
        ("init_image", {"init_image": handle_file(str(corpus[name]))}),
    ):
        message = refusal(client, ValidationError, **small(**upload))
        assert f"- {parameter}: " in message and REASONS.get(name, "cannot be read as an image") in message
        still_serves(client)


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_files_are_converted_and_used_as_reference_and_init_image(engine, client: Client, corpus, name) -> None:
    request = small(reference_images=references(corpus[name]), init_image=handle_file(str(corpus[name])))
    request.update(ip_scale=0.5, strength=0.5)
    gallery, *_ = generate(client, **request)
    image = load_image(corpus[name], "reference")
    wanted = engine.generate(expected_settings(request), [image], image).images
    assert len(pixels(gallery)) == 1 and np.array_equal(pixels(gallery)[0], np.asarray(wanted[0]))


def test_the_settings_loader_refuses_a_bomb_without_decoding_it(corpus, tmp_path: Path) -> None:
    handlers = Handlers(FakeEngine(), OutputStore(tmp_path), Limits())  # type: ignore[arg-type]
    with pytest.raises(gr.Error, match="bomb.png is not a PNG this app can read"):
        handlers.load_png(str(corpus["bomb.png"]))


@pytest.mark.parametrize(
    ("overrides", "parameter"),
    [
        ({"ip_scale": -0.5}, "ip_scale"),
        ({"steps": 0}, "steps"),
        ({"steps": 10**6}, "steps"),
        ({"width": 7, "height": 7}, "width"),
        ({"width": 8192, "height": 8192}, "width"),
        ({"seed": 2**64}, "seed"),
        ({"strength": 1.5}, "strength"),
        ({"scheduler": "LMS Karras v9"}, "scheduler"),
        ({"ip_layers": "style-and-composition"}, "ip_layers"),  # no such preset; ip_layers takes 16 bits
        ({"ip_layers": "01010101O1010101"}, "ip_layers"),
        ({"ip_layers": "1111 0000 1111 0"}, "ip_layers"),
        ({"prompt": "a red bicycle " * 715}, "prompt"),  # 10 010 characters
        # no input names a file or a model: these are fixed choices, checked before anything loads
        ({"ip_variant": "h94/IP-Adapter"}, "ip_variant"),
        ({"ip_variant": "../../../etc/passwd"}, "ip_variant"),
        ({"controlnet": "lllyasviel/control_v11p_sd15_seg"}, "controlnet"),
        ({"t2i": "/etc/passwd"}, "t2i"),
    ],
    ids=lambda value: value if isinstance(value, str) else ",".join(f"{k}={str(v)[:20]}" for k, v in value.items()),
)
def test_bad_values_are_refused_by_name(client: Client, overrides: dict[str, Any], parameter: str) -> None:
    message = refusal(client, ValidationError, **small(**overrides))
    assert message.startswith("1 parameter(s) failed validation:\n") and f"\n- {parameter}: " in message
    still_serves(client)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=str)
def test_numbers_that_are_not_finite_are_refused_by_name(app_url: str, client: Client, value: float) -> None:
    response = call_raw(app_url, ip_scale=value, guidance=value)
    assert response.status_code == 422, response.text
    invalid = {item["parameter_name"]: item["message"] for item in response.json()["detail"] if not item["is_valid"]}
    assert list(invalid) == ["ip_scale"] and invalid["ip_scale"].startswith("must be finite")
    still_serves(client)


def test_random_seed_and_prompts_in_any_script_generate(client: Client) -> None:
    prompt, negative = "一只红色的自行车，水彩 🚲🎨", "ぼやけた, 低品質 😵"
    gallery, used_seed, *_, text = generate(client, **small(prompt=prompt, negative_prompt=negative, seed=-1))
    assert 0 <= used_seed < 2**32
    assert read_png_parameters(Path(gallery[0]["image"])) == text
    assert text.startswith(f"{prompt}\nNegative prompt: {negative}\n") and f"Seed: {used_seed}," in text


# -- 5. prompts past CLIP's 77 tokens: a toast in the page, a line in the API's info text --


def test_a_truncated_prompt_is_a_warning_the_page_and_the_api_caller_see(client: Client) -> None:
    prompt = "a red bicycle leaning on a blue wall, " * 20  # ~180 tokens, 760 characters: within the limits
    job = client.submit(**small(prompt=prompt), api_name="/generate")

    async def logged() -> list[tuple[str, str]]:
        return [update.log async for update in job if getattr(update, "log", None)]

    toasts = asyncio.run(logged())
    gallery, *_, text = job.result(timeout=120)
    warning = "The prompt is longer than CLIP's 75 tokens; the words past that were ignored."
    assert (warning, "warning") in toasts
    assert text.endswith(f"\n\nWarning: {warning}")
    assert "Warning" not in (read_png_parameters(Path(gallery[0]["image"])) or ""), "the PNG keeps its settings only"


# -- 2. concurrency and the bounded queue --


def varied_request(index: int, reference: Path, control: Path) -> dict[str, Any]:
    """24 different requests: sampler, steps, CFG on/off, λ and layers, img2img, reference-only, ControlNet."""
    request = small(
        prompt=f"request {index}, a lighthouse",
        seed=1000 + index,
        steps=2 + index % 2,
        guidance=1.0 if index % 5 == 0 else 3.0 + index % 4,
        scheduler=SCHEDULER_NAMES[index % len(SCHEDULER_NAMES)],
        negative_prompt="blurry" if index % 2 else "",
        num_images=2 if index % 6 == 2 else 1,
    )
    if index % 3:
        presets = list(MASK_PRESETS.values())
        request.update(reference_images=references(reference), ip_scale=0.2 + 0.1 * index)
        request.update(ip_layers=presets[index % len(presets)], ip_fit="pad" if index % 4 == 2 else "crop")
    if index % 4 == 1:
        request.update(init_image=handle_file(str(reference)), strength=0.6, steps=3)
    if index % 8 == 4:
        request.update(reference_images=references(reference), ref_only="attn+adain", ref_fast=index % 16 == 4)
    if index % 12 == 7:
        request.update(control_image=handle_file(str(control)), control_is_map=True, controlnet="canny")
    return request


def serial_result(engine, request: dict[str, Any]) -> list[np.ndarray]:
    def image(value: Any) -> Image.Image | None:
        return load_image(Path(value["path"] if isinstance(value, dict) else value), "image") if value else None

    refs = [image(item["image"]) for item in request.get("reference_images", [])]
    init, control = image(request.get("init_image")), image(request.get("control_image"))
    result = engine.generate(expected_settings(request), refs, init, control)
    return [np.asarray(picture) for picture in result.images]


def test_eight_clients_at_once_get_exactly_their_serial_results(engine, probe, app_url, corpus) -> None:
    reference, control = corpus["rotated.jpg"], ROOT / "assets" / "house-edges.png"
    requests = [varied_request(index, reference, control) for index in range(24)]

    def session(first: int) -> dict[int, list[np.ndarray]]:
        client = Client(app_url, verbose=False)  # one browser tab each, three clicks in a row
        return {index: pixels(generate(client, **requests[index])[0]) for index in range(first, 24, 8)}

    probe.most_active = 0
    together: dict[int, list[np.ndarray]] = {}
    with ThreadPoolExecutor(8) as pool:
        for results in pool.map(session, range(8)):
            together.update(results)
    assert probe.most_active >= 2, "the requests should have overlapped"
    for index, request in enumerate(requests):
        alone = serial_result(engine, request)
        assert len(together[index]) == len(alone), index
        assert all(np.array_equal(a, b) for a, b in zip(together[index], alone)), f"request {index} changed in company"


class GatedEngine(FakeEngine):
    """The fake engine, holding every generation until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = 0

    def generate(self, settings, *args, **kwargs):
        self.entered += 1
        self.gate.wait(60)
        return super().generate(settings, *args, **kwargs)


def test_a_full_queue_refuses_clearly_and_serves_again_once_it_drains(app_url: str) -> None:
    engine = GatedEngine()
    with served(create_app(engine, concurrency=1, queue_size=1, with_examples=False), **launch_options()) as url:
        running, waiting, refused = (Client(url, verbose=False) for _ in range(3))
        first = running.submit(**small(seed=1), api_name="/generate")
        wait_for(lambda: engine.entered == 1, 30, "the first request to run")
        second = waiting.submit(**small(seed=2), api_name="/generate")
        wait_for(lambda: second.status().code == Status.IN_QUEUE, 30, "the second request to wait")
        with pytest.raises(QueueError, match="Queue is full"):
            refused.predict(**small(seed=3), api_name="/generate")
        raw = call_raw(url, seed=4)
        assert raw.status_code == 503 and "Queue is full. Max size is 1" in raw.json()["detail"]
        engine.gate.set()
        assert first.result(timeout=30)[1] == 1 and second.result(timeout=30)[1] == 2
        assert refused.predict(**small(seed=3), api_name="/generate")[1] == 3


def test_app_py_takes_a_positive_queue_size_and_offers_the_offload_the_oom_message_names(monkeypatch) -> None:
    app = app_module()
    for name in ("IPA_QUEUE_SIZE", "IPA_OFFLOAD"):
        monkeypatch.delenv(name, raising=False)
    assert app.parse_args(["--queue-size", "1"]).queue_size == 1 and app.parse_args([]).queue_size == 16
    with pytest.raises(SystemExit):
        app.parse_args(["--queue-size", "0"])
    assert not app.parse_args([]).offload and app.parse_args(["--offload"]).offload
    monkeypatch.setenv("IPA_OFFLOAD", "1")
    assert app.parse_args([]).offload


# -- 3. faults: out of memory, and everything nobody expected --


@pytest.mark.parametrize(
    "error",
    [
        SettingsError("steps", "must be between 1 and 1000, got 0"),
        ImageInputError("init_image: the image is 1x1; it must be at least 8x8"),
        MissingModelError("missing IP-Adapter SD1.5: expected /models/IP-Adapter/models/ip-adapter_sd15.safetensors"),
        ModelLoadError("cannot load the ControlNet from /models/control_v11p_sd15_canny: truncated file"),
        CheckpointError("ip-adapter_sd15.safetensors is not an IP-Adapter checkpoint"),
        OutOfMemoryError("cuda:0"),
        SettingsError("scheduler", "must be one of DDIM, got '<img src=x onerror=alert(1)>'"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_each_user_error_reaches_the_page_as_its_message(error: Exception) -> None:
    with pytest.raises(gr.Error) as caught, reported_errors("generating"):
        raise error
    shown = described(error) if isinstance(error, SettingsError) else str(error)  # settings by their labels
    assert caught.value.message == html.escape(shown, quote=False)


def test_a_validator_that_breaks_lets_the_handler_report_it(tmp_path, monkeypatch, caplog) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("in the middle of parsing")

    monkeypatch.setattr("ipa_demo.ui.handlers.parse_request", broken)
    handlers = Handlers(FakeEngine(), OutputStore(tmp_path), Limits())  # type: ignore[arg-type]
    request = {**default_values(), **small()}
    assert all(item["is_valid"] for item in handlers.validate_generate(**request)), "not the caller's mistake"
    with pytest.raises(gr.Error) as caught:
        list(handlers.generate(gr.Progress(), **request))
    assert caught.value.message == INTERNAL_ERROR.format(action="generating")
    logged = [record.exc_info[0] for record in caplog.records if record.exc_info]
    assert logged == [ZeroDivisionError, ZeroDivisionError], "both failures are in the server log"


def test_out_of_memory_in_the_unet_is_advice_and_the_next_request_works(engine, client, monkeypatch) -> None:
    def exhausted(*args: Any, **kwargs: Any) -> Any:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with monkeypatch.context() as patch:
        patch.setattr(engine.models.unet, "forward", exhausted)
        message = refusal(client, AppError, **small())
    assert "ran out of memory" in message and "Tried to allocate" not in message
    for advice in ("smaller size", "fewer images", "offload"):
        assert advice in message
    still_serves(client)


def test_an_unexpected_failure_tells_nothing_but_is_logged(engine, client, monkeypatch, caplog) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("cuDNN error at /srv/ipa/secret.py:12")

    caplog.set_level(logging.ERROR, logger="ipa_demo.ui")
    with monkeypatch.context() as patch:
        patch.setattr(engine.models.unet, "forward", broken)
        message = refusal(client, AppError, **small())
    assert message == INTERNAL_ERROR.format(action="generating")
    assert "cuDNN error at /srv/ipa/secret.py:12" in caplog.text, "the server log keeps the details"
    still_serves(client)


# -- 4. what may be uploaded, read and loaded --


def test_an_upload_over_the_limit_is_refused_by_client_and_server(app_url, client, tmp_path) -> None:
    big = tmp_path / "huge.png"
    big.write_bytes(b"\0" * (UPLOAD_LIMIT_MB * 1024 * 1024 + 1024))
    with pytest.raises(ValueError, match=rf"exceeds the maximum file size of {UPLOAD_LIMIT_MB * 1024 * 1024} bytes"):
        generate(client, **small(init_image=handle_file(str(big))))
    with big.open("rb") as file:  # a caller that skips the client's check
        response = httpx.post(f"{app_url}gradio_api/upload", timeout=60, files={"files": ("huge.png", file)})
    assert response.status_code == 413 and "maximum allowed size" in response.text
    still_serves(client)


def test_upload_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IPA_MAX_UPLOAD_MB", raising=False)
    assert launch_options()["max_file_size"] == 20 * 1024 * 1024 and launch_options()["show_error"] is False
    monkeypatch.setenv("IPA_MAX_UPLOAD_MB", "2.5")
    assert launch_options()["max_file_size"] == int(2.5 * 1024 * 1024)
    for bad in ("lots", "0", "-1", "nan"):
        monkeypatch.setenv("IPA_MAX_UPLOAD_MB", bad)
        with pytest.raises(SettingsError, match="^IPA_MAX_UPLOAD_MB: "):
            launch_options()


def test_server_files_cannot_be_read_through_the_api(app_url, client, tiny_models_dir: Path) -> None:
    gallery, *_ = generate(client, **small(seed=8))
    assert Image.open(gallery[0]["image"]).format == "PNG", "outputs are served (the client downloaded this one)"
    model_file = next(tiny_models_dir.rglob("*.safetensors"))
    for path in ("/etc/passwd", "../../../../etc/passwd", "%2Fetc%2Fpasswd", str(ROOT / "app.py"), str(model_file)):
        response = httpx.get(f"{app_url}gradio_api/file={path}", timeout=60)
        assert response.status_code in (403, 404) and b"root:" not in response.content, path
    passwd = {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}
    internal = {"path": f"{app_url}gradio_api/file=/etc/passwd", "meta": {"_type": "gradio.FileData"}}
    for upload in (
        {"init_image": passwd},
        {"init_image": "/etc/passwd"},
        {"reference_images": [{"image": passwd}], "ip_scale": 0.5},
        {"control_image": internal, "controlnet": "canny"},  # a URL on the server's own network
    ):
        response = call_raw(app_url, **upload)
        assert response.status_code == 400 and "root:" not in response.text, (upload, response.text)
    still_serves(client)


def test_model_choices_are_fixed_allow_lists() -> None:
    with gr.Blocks():
        fields = build_controls(Limits(), gr.Column(), gr.Column()).fields
    allowed = {"ip_variant": IP_VARIANTS, "controlnet": CONTROLNET_KINDS, "t2i": T2I_KINDS}
    for name, values in {**allowed, "scheduler": SCHEDULER_NAMES}.items():
        assert tuple(value for _, value in fields[name].choices) == values, name
    assert set(IP_ADAPTERS) | set(SDXL_IP_ADAPTERS) == set(IP_VARIANTS)
    assert set(CONTROLNETS) == set(CONTROLNET_KINDS) - {"none"} and set(T2I_ADAPTERS) == set(T2I_KINDS) - {"none"}
