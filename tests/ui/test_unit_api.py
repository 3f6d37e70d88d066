"""Further units over the API: ``gradio_client`` with ``handle_file``, and the raw-HTTP attacks on their images."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from ipa_demo.settings.unit_keys import MASK_PRESETS
from ipa_demo.settings import Limits
from ipa_demo.settings.parameters import settings_from_parameters
from ipa_demo.ui.app import create_app, launch_options

from .test_app import served, small
from .test_security import post, refused, request, upload
from .test_ui import FakeEngine

META = {"_type": "gradio.FileData"}
LIMITS = Limits(max_input_images=6, max_request_pixels=6 * 64 * 64, max_units=3)


@pytest.fixture(scope="module")
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture(scope="module")
def url(engine: FakeEngine) -> Iterator[str]:
    with served(create_app(engine, limits=LIMITS, with_examples=False), **launch_options()) as address:  # type: ignore[arg-type]
        yield address


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("units")
    paths = {}
    for name, colour, size in (("room", (90, 60, 30), (64, 64)), ("edges", (255, 255, 255), (64, 64)),
                               ("face", (200, 150, 120), (64, 64)), ("style", (20, 40, 200), (64, 64)),
                               ("mask", (255, 255, 255), (64, 64)), ("huge", (0, 0, 0), (20_000, 20_000))):  # fmt: skip
        paths[name] = folder / f"{name}.png"
        Image.new("P" if name == "huge" else "RGB", size, colour if name != "huge" else 0).save(paths[name])
    return paths


def test_gradio_client_sends_units_with_handle_file(url: str, engine: FakeEngine, files: dict[str, Path]) -> None:
    client = Client(url, verbose=False)
    gallery, *_, parameters = client.predict(
        **small(seed=5),
        controlnet_units=[
            {"kind": "depth", "image": handle_file(files["room"]), "scale": 0.7, "start": 0, "end": 0.8},
            {"kind": "canny", "map": handle_file(files["edges"]), "scale": 0.5, "mask": handle_file(files["mask"])},
        ],
        ip_units=[{"reference": [handle_file(files["face"]), handle_file(files["style"])], "variant": "plus-face",
                   "scale": 0.6, "preset": "style", "reference-weight": [1, 0.5]}],
        t2i_units=[{"kind": "canny", "map": handle_file(files["edges"]), "scale": 0.8, "factor": 0.5}],
        api_name="/generate",
    )  # fmt: skip
    settings, units = engine.last_units
    depth, canny = settings.more_controlnet_units
    assert (depth.kind, depth.scale, depth.end, canny.kind, canny.scale) == ("depth", 0.7, 0.8, "canny", 0.5)
    ip = settings.more_ip_units[0]
    assert (ip.variant, ip.scale, ip.mask, ip.reference_weights) == ("plus-face", 0.6, MASK_PRESETS["style"], (1.0, 0.5))
    assert settings.more_t2i_units[0].factor == 0.5
    assert units.controlnet[0].image.getpixel((0, 0)) == (90, 60, 30) and units.controlnet[0].map is None
    assert units.controlnet[1].map is not None and units.controlnet[1].mask.mode == "L"
    assert [image.getpixel((0, 0)) for image in units.ip[0].references] == [(200, 150, 120), (20, 40, 200)]
    assert units.t2i[0].map is not None and units.count() == 6
    assert settings_from_parameters(parameters).more_controlnet_units == settings.more_controlnet_units


def test_a_unit_without_its_image_is_refused_by_name(url: str) -> None:
    answer = refused(post(url, request(controlnet_units=[{"kind": "depth", "scale": 0.5}])))
    assert answer == {"controlnet_units": "ControlNet unit 2 image: this unit needs a control image or a map"}
    answer = refused(post(url, request(controlnet_units=[{"kind": "depth", "scale": 3}])))
    assert answer == {"controlnet_units": "ControlNet unit 2: scale: must be between 0 and 2, got 3.0"}
    not_a_list = post(url, request(t2i_units="canny"))  # the payload guard, before Gradio reads it
    assert not_a_list.status_code == 400 and "More T2I-Adapter units (t2i_units): must be a list of units" in not_a_list.text


@pytest.mark.parametrize("shape", ["with meta", "without meta", "bare string", "in a list"])
def test_a_unit_image_naming_a_server_path_is_refused_naming_the_unit(url: str, files: dict[str, Path], shape: str) -> None:
    secret = str(files["room"])  # a real image on the server, never uploaded
    file = {"with meta": {"path": secret, "meta": META}, "without meta": {"path": secret}, "bare string": secret,
            "in a list": [{"path": secret, "meta": META}]}[shape]  # fmt: skip
    key, param, label = ("reference", "ip_units", "IP-Adapter unit 3") if shape == "in a list" else (
        "map", "t2i_units", "T2I-Adapter unit 2")  # fmt: skip
    unit = {"kind": "canny", key: file} if param == "t2i_units" else {key: file}
    response = post(url, request(**{param: [unit]}))
    answer = _answer(url, response)
    assert f"{label} {key} ({param}): only files uploaded to this app, or images it made, can be used." in answer
    assert "gradio_api/file=" not in answer and secret not in answer


def test_an_oversized_header_and_the_budget_name_the_unit(url: str, files: dict[str, Path]) -> None:
    huge = upload(url, files["huge"])  # 400 megapixels in a few KB: refused from its header
    answer = refused(post(url, request(controlnet_units=[{"kind": "canny", "map": huge}])))
    assert list(answer) == ["controlnet_units"] and answer["controlnet_units"].startswith("ControlNet unit 2 map: ")
    assert "too large" in answer["controlnet_units"]
    room = upload(url, files["room"])
    three = [{"kind": "canny", "map": room} for _ in range(3)]  # 1 + 3 ControlNet units: over max_units=3
    assert refused(post(url, request(controlnet_units=three))) == {
        "controlnet_units": "at most 3 units of a kind on this server (IPA_MAX_UNITS), got 4"}  # fmt: skip
    seven = [{"reference": [room, room, room, room]}, {"kind": "canny", "map": room}]
    over = refused(post(url, request(ip_units=seven[:1], controlnet_units=seven[1:], t2i_units=[{"kind": "canny", "map": room}, {"kind": "canny", "map": room}])))
    assert over == {"t2i_units": "T2I-Adapter unit 3 map: at most 6 input images per request on this server, got 7"}


def _answer(url: str, response: httpx.Response) -> str:
    if response.status_code != 200:
        return response.text
    return httpx.get(f"{url}gradio_api/call/generate/{response.json()['event_id']}", timeout=60).text


def test_the_readmes_units_call_works(url: str, engine: FakeEngine, files: dict[str, Path]) -> None:
    """The README's snippet with further units, run as written but for the address, the files and a quick size."""
    import re

    from .test_app import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    snippet = next(block for block in re.findall(r"```python\n(.*?)```", readme, re.DOTALL) if "controlnet_units=" in block)
    for name, path in (("room.jpg", files["room"]), ("edges.png", files["edges"]), ("left.png", files["mask"]),
                       ("face.png", files["face"])):  # fmt: skip
        snippet = snippet.replace(f'"{name}"', repr(str(path)))
    snippet = snippet.replace('prompt="a living room",', 'prompt="a living room", steps=2, width=64, height=64,')
    scope: dict[str, object] = {"client": Client(url, verbose=False), "handle_file": handle_file}
    exec(snippet, scope)  # noqa: S102 (our own README)
    settings, units = engine.last_units
    assert [unit.kind for unit in settings.more_controlnet_units] == ["depth", "canny"]
    assert settings.more_ip_units[0].variant == "plus-face" and settings.more_t2i_units[0].factor == 0.5
    assert units.controlnet[1].mask is not None and "Unit: controlnet 3" in str(scope["parameters"])
