"""Hostile and careless requests to the A1111 API, over raw HTTP: each is refused with A1111's error
shape, a 422 whose detail starts with the field the client wrote, before any image is decoded, and
the server keeps serving (and keeps its memory)."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
import requests
from PIL import Image

from ipa_demo.ui.app import create_app, launch_options

from ..ui.test_app import served
from ..ui.test_ui import FakeEngine

SMALL = {"prompt": "a cat", "steps": 2, "width": 64, "height": 64, "seed": 1}
ARGS = "alwayson_scripts.controlnet.args"


def b64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def png_claiming(width: int, height: int) -> str:
    """A PNG whose header claims ``width`` x ``height``, with (almost) no pixels behind it."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return base64.b64encode(b"\x89PNG\r\n\x1a\n" + ihdr + b"\x00\x00\x00\x00IEND\xaeB`\x82").decode()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IPA_MAX_UPLOAD_MB", "0.25")  # the largest image file an API request may hold
        patch.setenv("IPA_MAX_API_BODY_MB", "2")
        demo = create_app(FakeEngine(), with_examples=False)  # type: ignore[arg-type]
        with served(demo, **launch_options()) as address:
            yield address


def unit(**fields: Any) -> dict[str, Any]:
    return {"enabled": True, "module": "canny", "model": "control_v11p_sd15_canny", "image": b64(Image.new("RGB", (64, 64))),
            **fields}  # fmt: skip


def refused(url: str, payload: Any, field: str, path: str = "sdapi/v1/txt2img") -> str:
    data = json.dumps(payload, allow_nan=True)  # NaN as Python's json (and Starlette's reader) writes it
    reply = requests.post(f"{url}{path}", data=data, headers={"content-type": "application/json"}, timeout=60)
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert set(body) == {"error", "detail", "body", "errors"}
    assert body["detail"].startswith(f"{field}: "), body["detail"]
    return body["detail"]


def test_images_that_must_not_be_decoded(url: str) -> None:
    huge = "A" * (400 * 1024)  # 300 KB of file: over the 0.25 MB an image may hold
    refused(url, {**SMALL, "alwayson_scripts": {"controlnet": {"args": [unit(image=huge)]}}}, f"{ARGS}[0].image")
    refused(url, {**SMALL, "init_images": ["not base64!"]}, "init_images[0]", "sdapi/v1/img2img")
    detail = refused(url, {**SMALL, "init_images": [png_claiming(100_000, 100_000)]}, "init_images[0]", "sdapi/v1/img2img")
    assert "too large" in detail or "megapixels" in detail
    refused(url, {**SMALL, "init_images": ["https://example.com/cat.png"]}, "init_images[0]", "sdapi/v1/img2img")
    refused(url, {"image": png_claiming(100_000, 100_000)}, "image", "sdapi/v1/png-info")


def test_a_body_over_the_api_limit_is_refused_while_it_arrives(url: str) -> None:
    reply = requests.post(f"{url}sdapi/v1/txt2img", data=b"{" + b" " * (3 * 1024 * 1024) + b"}", timeout=60,
                          headers={"content-type": "application/json"})  # fmt: skip
    assert reply.status_code == 413


def test_units_asking_for_what_is_not_here(url: str) -> None:
    many = {**SMALL, "alwayson_scripts": {"controlnet": {"args": [unit(enabled=False)] * 50}}}
    assert "at most 10 units" in refused(url, many, f"{ARGS}")
    refused(url, {**SMALL, "alwayson_scripts": {"controlnet": {"args": [unit(module="lineart")]}}}, f"{ARGS}[0].module")
    refused(url, {**SMALL, "alwayson_scripts": {"controlnet": {"args": [unit(model="ip-adapter-faceid_sd15")]}}},
            f"{ARGS}[0].model")  # fmt: skip
    five = [unit(weight=0.5)] * 5  # one past IPA_MAX_UNITS (4): the fifth is named
    detail = refused(url, {**SMALL, "alwayson_scripts": {"controlnet": {"args": five}}}, f"{ARGS}[4]")
    assert "at most 4 ControlNet unit" in detail
    refused(url, {**SMALL, "alwayson_scripts": {"controlnet": {"args": [unit(weight=float("nan"))]}}}, f"{ARGS}[0].weight")
    refused(url, {**SMALL, "alwayson_scripts": {"controlnet": {"args": [unit(control_mode=5)]}}}, f"{ARGS}[0].control_mode")
    refused(url, {**SMALL, "alwayson_scripts": {"ADetailer": {"args": [True]}}}, "alwayson_scripts.ADetailer")


def test_top_level_fields(url: str) -> None:
    refused(url, {**SMALL, "enable_hr": True}, "enable_hr")
    refused(url, {**SMALL, "restore_faces": True}, "restore_faces")
    refused(url, {**SMALL, "script_name": "x/y/z plot"}, "script_name")
    refused(url, {**SMALL, "cfg_scale": float("nan")}, "cfg_scale")
    refused(url, {**SMALL, "steps": 10_000}, "steps")
    refused(url, {**SMALL, "sampler_name": "LMS"}, "sampler_name")
    refused(url, {**SMALL, "sampler_name": "Euler", "scheduler": "Karras"}, "scheduler")
    refused(url, {**SMALL, "batch_size": 4, "n_iter": 100}, "n_iter")
    refused(url, {**SMALL, "seed": 2**32 - 1, "n_iter": 2}, "seed")  # the second run's seed is past the largest
    ok = requests.post(f"{url}sdapi/v1/txt2img", json={**SMALL, "enable_hr": False, "hr_scale": 2, "styles": [],
                       "tiling": False, "no_such_key": 1, "eta": 1.0, "denoising_strength": 0.7}, timeout=60)  # fmt: skip
    assert ok.status_code == 200, ok.text


def test_hostile_requests_leave_the_memory_where_it_was(url: str) -> None:
    process = psutil.Process()
    payloads = [
        {**SMALL, "init_images": [png_claiming(100_000, 100_000)]},
        {**SMALL, "init_images": ["A" * (300 * 1024)]},
        {**SMALL, "alwayson_scripts": {"controlnet": {"args": [unit()] * 50}}},
    ]
    for payload in payloads:  # warm up
        requests.post(f"{url}sdapi/v1/img2img", json=payload, timeout=60)
    before = process.memory_info().rss
    for _ in range(20):
        for payload in payloads:
            assert requests.post(f"{url}sdapi/v1/img2img", json=payload, timeout=60).status_code == 422
    assert process.memory_info().rss - before < 50 * 1024 * 1024
    assert requests.post(f"{url}sdapi/v1/txt2img", json=SMALL, timeout=60).status_code == 200


def test_on_zero_gpu_generating_routes_say_why_they_cannot(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ipa_demo.sdapi.routes.on_zero_gpu", lambda: True)
    reply = requests.post(f"{url}sdapi/v1/txt2img", json=SMALL, timeout=60)
    assert reply.status_code == 503 and "ZeroGPU" in reply.json()["detail"]
    assert requests.get(f"{url}sdapi/v1/sd-models", timeout=60).status_code == 200


def test_only_masked_answers_within_the_pixel_budget(url: str) -> None:
    """"Only masked" answers at the init image's size: n images of it must fit ``IPA_MAX_REQUEST_PIXELS``."""
    init, mask = Image.new("RGB", (3300, 3300), (40, 80, 120)), Image.new("L", (3300, 3300), 0)
    mask.paste(255, (100, 100, 200, 200))
    body = {**SMALL, "init_images": [b64(init)], "mask": b64(mask), "inpaint_full_res": True, "batch_size": 8}
    detail = refused(url, body, "inpaint_full_res", "sdapi/v1/img2img")
    assert "3300x3300" in detail
