"""Issue 11's attacks over raw HTTP: memory bombs within the per-image limits, values that overflow,
text that is not Unicode, bursts past the queue, foreign Host headers and origins. After each, the
server serves a normal request."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from ipa_demo.input_budget import ImageHeader, check_budget
from ipa_demo.ip_adapter.image_encoder import MAX_PAD_SIDE, fit_square
from ipa_demo.settings import Limits, SettingsError
from ipa_demo.settings.values import PARAMS, default_values
from ipa_demo.ui.app import create_app, launch_options
from ipa_demo.ui.server_guard import GuardPolicy

from .test_app import served, small
from .test_ui import FakeEngine, wait_for

BUDGET = Limits(max_references=3, max_input_images=4, max_request_pixels=3 * 100 * 100)


def upload(url: str, path: Path) -> dict[str, Any]:
    with path.open("rb") as file:
        response = httpx.post(f"{url}gradio_api/upload", timeout=60, files={"files": (path.name, file)})
    response.raise_for_status()
    return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}, "orig_name": path.name}


def post(url: str, body: str | dict[str, Any]) -> httpx.Response:
    content = body if isinstance(body, str) else json.dumps({"data": [body[name] for name in PARAMS]})
    return httpx.post(f"{url}gradio_api/call/generate",
                      timeout=60, content=content, headers={"content-type": "application/json"})


def request(**overrides: Any) -> dict[str, Any]:
    return {**default_values(), **small(), **overrides}


def refused(response: httpx.Response) -> dict[str, str]:
    """The parameters a 422 names, with their messages."""
    assert response.status_code == 422, response.text
    return {item["parameter_name"]: item["message"] for item in response.json()["detail"] if not item["is_valid"]}


def serves(url: str) -> None:
    response = post(url, request(seed=77))
    assert response.status_code == 200, response.text
    result = httpx.get(f"{url}gradio_api/call/generate/{response.json()['event_id']}", timeout=60).text
    assert "event: complete" in result and '"seed 77"' in result


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with served(create_app(FakeEngine(), limits=BUDGET, with_examples=False), **launch_options()) as address:  # type: ignore[arg-type]
        yield address


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("images")
    made = {"square": (100, 100), "strip": (8, 500_000), "panorama": (400, 20)}
    paths = {}
    for name, size in made.items():
        paths[name] = folder / f"{name}.png"
        Image.new("P", size).save(paths[name])  # a palette PNG: a few KB for any size
    return paths


# -- the memory budget, checked from the headers --


def test_a_strip_is_refused_before_any_canvas_is_built(url: str, images: dict[str, Path]) -> None:
    strip = upload(url, images["strip"])
    for fit in ("pad", "crop"):
        message = refused(post(url, request(reference_images=[{"image": strip}], ip_scale=0.5, ip_fit=fit)))
        assert message == {"reference_images": "the image is 8x500000; one side may be at most 20 times the other"}
    serves(url)


def test_too_many_references_and_images_are_refused_by_name(url: str, images: dict[str, Path]) -> None:
    small_file = images["panorama"]  # 8,000 pixels: the pixel budget is not what refuses these
    four = [{"image": upload(url, small_file)} for _ in range(4)]
    assert refused(post(url, request(reference_images=four, ip_scale=0.5))) == {
        "reference_images": "at most 3 reference images on this server, got 4"
    }
    three = four[:3]
    both = request(reference_images=three, ip_scale=0.5, init_image=four[0]["image"], control_image=four[1]["image"])
    both.update(controlnet="canny", control_is_map=True)
    assert refused(post(url, both)) == {"control_image": "at most 4 input images per request on this server, got 5"}
    serves(url)


def test_the_request_pixel_budget_names_the_image_that_breaks_it(url: str, images: dict[str, Path]) -> None:
    square = {"image": upload(url, images["square"])}  # 10,000 pixels each; the budget is 30,000
    ok = request(reference_images=[square, square], ip_scale=0.5, init_image=square["image"])
    assert post(url, ok).status_code == 200
    over = request(reference_images=[square, square, square], ip_scale=0.5, init_image=square["image"])
    assert refused(post(url, over)) == {
        "init_image": "the input images hold 0.04 megapixels together; at most 0.03 are accepted per request on this server"
    }
    serves(url)


def test_budget_rules() -> None:
    limits = Limits(max_references=2, max_input_images=3, max_request_pixels=1000)
    check_budget([ImageHeader("reference_images", 10, 10)] * 2 + [ImageHeader("init_image", 20, 40)], limits)
    with pytest.raises(SettingsError, match="^reference_images: at most 2 reference images"):
        check_budget([ImageHeader("reference_images", 10, 10)] * 3, limits)
    with pytest.raises(SettingsError, match="^control_image: the input images hold 0.0012 megapixels"):
        check_budget([ImageHeader("init_image", 10, 10), ImageHeader("control_image", 10, 110)], limits)
    with pytest.raises(SettingsError, match="^IPA_MAX_REQUEST_PIXELS: must be at least 1"):
        Limits(max_request_pixels=0)


def test_the_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"REFERENCES": "2", "INPUT_IMAGES": "5", "REQUEST_PIXELS": "123"}.items():
        monkeypatch.setenv(f"IPA_MAX_{name}", value)
    limits = Limits.from_env()
    assert (limits.max_references, limits.max_input_images, limits.max_request_pixels) == (2, 5, 123)


def test_a_padded_reference_canvas_is_bounded_and_small_ones_are_unchanged() -> None:
    panorama = Image.new("RGB", (4000, 200), (200, 10, 10))
    padded = fit_square(panorama, "pad")
    assert padded.size == (MAX_PAD_SIDE, MAX_PAD_SIDE)
    assert padded.getpixel((MAX_PAD_SIDE // 2, MAX_PAD_SIDE // 2)) == (200, 10, 10)  # the content is all there
    small_one = Image.new("RGB", (300, 100), (5, 6, 7))
    assert fit_square(small_one, "pad").size == (300, 300)


# -- values and text --


@pytest.mark.parametrize("name", ["ip_scale", "guidance", "steps", "seed", "width", "strength", "canny_low"])
def test_numbers_too_large_for_a_float_are_refused_by_name(url: str, name: str) -> None:
    body = json.dumps({"data": [request()[param] for param in PARAMS]})
    data = json.loads(body)["data"]
    data[PARAMS.index(name)] = "HUGE"
    huge = json.dumps({"data": data}).replace('"HUGE"', "1" + "0" * 400)
    message = refused(post(url, huge))
    assert list(message) == [name] and "10000000000" in message[name] and "(401 characters)" in message[name]
    serves(url)


@pytest.mark.parametrize("name", ["prompt", "negative_prompt"])
def test_text_that_is_not_unicode_is_refused_by_name(url: str, name: str) -> None:
    body = json.dumps({"data": [request(**{name: "a cat \ud800 in a hat"})[param] for param in PARAMS]})
    assert "\\ud800" in body  # sent as JSON writes it: a lone surrogate
    assert refused(post(url, body)) == {name: "is not valid Unicode text (character 7 cannot be encoded)"}
    serves(url)


# -- the Explore tab's events: every cell within the limits, refused before it runs --


def post_event(url: str, name: str, **overrides: Any) -> httpx.Response:
    """A raw /gradio_api/call/``name``, its data in the order /gradio_api/info lists the parameters."""
    info = httpx.get(f"{url}gradio_api/info", timeout=60).json()["named_endpoints"][f"/{name}"]["parameters"]
    values = {"x_axis": "seed=1,2", "y_axis": "", **request(**overrides)}
    return httpx.post(f"{url}gradio_api/call/{name}",
                      timeout=60, json={"data": [values[p["parameter_name"]] for p in info]})


@pytest.mark.parametrize(
    ("axes", "refusal"),
    [
        ({"x_axis": "steps=2,1000"}, {"x_axis": "steps=1000: at most 150 on this server, got 1000"}),
        ({"y_axis": "width=64,2048"}, {"y_axis": "width=2048: at most 1024 on this server, got 2048"}),
        ({"y_axis": "height=64,100000"}, {"y_axis": "height=100000: must be between 64 and 8192, got 100000"}),
        ({"x_axis": "seed=" + ",".join(map(str, range(150)))},
         {"x_axis": "150 × 1 = 150 cells; this server makes at most 32 in one sweep"}),
        ({"y_axis": "seed=1," + "9" * 500_000},  # under the body limit: the axis rule refuses it
         {"y_axis": "is 500,007 characters long; an axis may have at most 1,000"}),
        ({"x_axis": "guidance=1,1e999"}, {"x_axis": "guidance=1e999: must be finite, got inf"}),
    ],
    ids=["steps", "side", "ceiling", "cells", "500-kb-axis", "infinite"],
)
def test_a_sweep_past_the_servers_limits_is_refused_by_its_axis(url: str, axes: dict[str, str], refusal) -> None:
    response = post_event(url, "sweep", **axes)
    assert refused(response) == refusal
    assert len(response.content) < 20_000, "the axis came back in the refusal"
    serves(url)


def test_a_3_mb_axis_is_refused_by_the_body_limit_before_gradio_reads_it(url: str) -> None:
    response = post_event(url, "sweep", y_axis="seed=1," + "9" * 3_000_000)
    assert response.status_code == 413 and "too large" in response.text
    serves(url)


def test_injection_maps_past_the_limits_or_with_nothing_to_map_are_refused(url: str) -> None:
    assert refused(post_event(url, "injection_maps", steps=1000)) == {"steps": "at most 150 on this server, got 1000"}
    assert refused(post_event(url, "injection_maps", ip_scale=0.0)) == {
        "ip_scale": "IP-Adapter is off (λ 0, no layer or an empty window): nothing to map"
    }
    serves(url)


# -- the queue under a burst --


class HeldEngine(FakeEngine):
    def __init__(self) -> None:
        self.gate, self.entered = threading.Event(), 0

    def generate(self, settings, *args, **kwargs):
        self.entered += 1
        self.gate.wait(60)
        return super().generate(settings, *args, **kwargs)


def test_a_burst_cannot_overfill_the_queue() -> None:
    engine = HeldEngine()
    with served(create_app(engine, queue_size=2, with_examples=False), **launch_options()) as address:  # type: ignore[arg-type]
        body = json.dumps({"data": [request()[name] for name in PARAMS]})

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=60) as client:
                return await asyncio.gather(*(
                    client.post(f"{address}gradio_api/call/generate", content=body,
                                headers={"content-type": "application/json"})
                    for _ in range(30)
                ))  # fmt: skip

        answers = asyncio.run(burst())
        accepted = [answer for answer in answers if answer.status_code == 200]
        busy = [answer for answer in answers if answer.status_code == 503]
        assert len(accepted) == 2 and len(busy) == 28, [answer.status_code for answer in answers]
        assert all("the server is busy, try again in a minute" in answer.json()["detail"] for answer in busy)
        wait_for(lambda: engine.entered == 1, 30, "the first request to run")
        engine.gate.set()
        serves(address)


# -- Host and origin --


def test_a_foreign_host_header_is_refused(url: str) -> None:
    port = httpx.URL(url).port
    for host in ("evil.example", "evil.example:7860", "127.0.0.1.evil.example", "localhost.evil.example",
                 "evil.example@localhost", f"evil.example@localhost:{port}", f"evil.example@127.0.0.1:{port}",
                 f"localhost:{port}/path", "localhost#evil", "localhost:port", "[::1", ""):  # fmt: skip
        response = httpx.get(f"{url}config", timeout=60, headers={"host": host})
        assert response.status_code == 400 and "IPA_ALLOWED_HOSTS" in response.text, host
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
        assert httpx.get(f"{url}config", timeout=60, headers={"host": host}).status_code == 200, host
    serves(url)


def test_no_credentialed_cors_for_foreign_origins(url: str) -> None:
    own = url.rstrip("/")
    for origin in ("http://localhost:3000", "https://evil.example", "null"):
        for response in (
            httpx.get(f"{url}config", timeout=60, headers={"origin": origin}),
            httpx.options(f"{url}gradio_api/call/generate",
                          headers={"origin": origin, "access-control-request-method": "POST"}),  # fmt: skip
        ):
            assert "access-control-allow-origin" not in response.headers, origin
            assert "access-control-allow-credentials" not in response.headers, origin
    response = httpx.get(f"{url}config", timeout=60, headers={"origin": own})
    assert response.headers["access-control-allow-origin"] == own  # the page's own requests still work


def test_host_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IPA_ALLOWED_HOSTS", raising=False)
    monkeypatch.delenv("IPA_ALLOWED_ORIGINS", raising=False)
    assert GuardPolicy.for_server("127.0.0.1").hosts == ("localhost", "127.0.0.1", "::1")
    assert GuardPolicy.for_server("0.0.0.0").hosts is None  # on the network: checked only when configured
    monkeypatch.setenv("IPA_ALLOWED_HOSTS", "studio.example.org, Proxy.Local")
    monkeypatch.setenv("IPA_ALLOWED_ORIGINS", "https://studio.example.org")
    policy = GuardPolicy.for_server("0.0.0.0")
    assert policy.hosts == ("localhost", "127.0.0.1", "::1", "studio.example.org", "proxy.local")
    assert policy.origins == ("https://studio.example.org",)
    monkeypatch.setenv("IPA_ALLOWED_HOSTS", "*")
    assert GuardPolicy.for_server("127.0.0.1").hosts is None


def test_a_configured_host_and_origin_are_served(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPA_ALLOWED_HOSTS", "studio.example.org")
    monkeypatch.setenv("IPA_ALLOWED_ORIGINS", "https://studio.example.org")
    with served(create_app(FakeEngine(), with_examples=False), **launch_options()) as address:  # type: ignore[arg-type]
        response = httpx.get(f"{address}config",
                             timeout=60, headers={"host": "studio.example.org", "origin": "https://studio.example.org"})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "https://studio.example.org"
