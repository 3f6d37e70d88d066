"""Several units of each kind from ``alwayson_scripts.controlnet.args``: webuiapi and raw requests."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import webuiapi
from PIL import Image

from ipa_demo.settings.parameters import settings_from_parameters
from ipa_demo.ui.app import create_app, launch_options

from ..ui.test_app import served
from ..ui.test_ui import FakeEngine

ARGS = "alwayson_scripts.controlnet.args"
COLOURS = {"room": (90, 60, 30), "edges": (255, 255, 255), "face": (200, 150, 120), "style": (20, 40, 200),
           "cat": (10, 200, 10)}  # fmt: skip


def image(name: str) -> Image.Image:
    return Image.new("RGB", (64, 64), COLOURS[name])


def b64(picture: Image.Image) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture(scope="module")
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture(scope="module")
def url(engine: FakeEngine) -> Iterator[str]:
    with served(create_app(engine, with_examples=False), **launch_options()) as address:  # type: ignore[arg-type]
        yield address


def test_webuiapi_sends_three_ip_two_controlnet_and_two_t2i_units(url: str, engine: FakeEngine) -> None:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    api = webuiapi.WebUIApi(host=host, port=int(port), sampler="Euler a", steps=2)
    ip, canny, depth = "ip-adapter_clip_sd15", "control_v11p_sd15_canny", "control_v11f1p_sd15_depth"
    units = [
        webuiapi.ControlNetUnit(image=image("cat"), module=ip, model="ip-adapter_sd15", weight=0.7),
        webuiapi.ControlNetUnit(image=image("style"), module=ip, model="ip-adapter-plus_sd15", weight=0.5),
        webuiapi.ControlNetUnit(image=image("face"), module=ip, model="ip-adapter-plus-face_sd15", weight=0.6,
                                guidance_start=0.1, guidance_end=0.9),
        webuiapi.ControlNetUnit(image=image("room"), module="canny", model=canny, weight=0.9, threshold_a=100,
                                threshold_b=200),
        webuiapi.ControlNetUnit(image=image("room"), module="depth", model=depth, weight=0.7, guidance_end=0.8),
        # the first ControlNet and T2I units share the control image; the further ones have their own
        webuiapi.ControlNetUnit(image=image("room"), module="canny", model="t2iadapter_canny_sd15v2", weight=0.8),
        webuiapi.ControlNetUnit(image=image("edges"), module="none", model="t2iadapter_depth_sd15v2", weight=0.4,
                                guidance_end=0.5),
    ]  # fmt: skip
    result = api.txt2img(prompt="a room", seed=3, width=64, height=64, controlnet_units=units)
    settings, given = engine.last_units
    assert (settings.ip.variant, settings.ip2.variant, settings.ip2.scale) == ("base", "plus", 0.5)
    face = settings.more_ip_units[0]
    assert (face.variant, face.scale, face.start, face.end) == ("plus-face", 0.6, 0.1, 0.9)
    assert settings.controlnet.kind == "canny" and settings.t2i.kind == "canny"
    (depth_unit,), (t2i_depth,) = settings.more_controlnet_units, settings.more_t2i_units
    assert (depth_unit.kind, depth_unit.scale, depth_unit.end) == ("depth", 0.7, 0.8)
    assert (t2i_depth.kind, t2i_depth.scale, t2i_depth.factor) == ("depth", 0.4, 0.5)
    assert given.ip[0].references[0].getpixel((0, 0)) == COLOURS["face"]
    assert given.controlnet[0].image.getpixel((0, 0)) == COLOURS["room"] and given.controlnet[0].map is None
    assert given.t2i[0].map.getpixel((0, 0)) == COLOURS["edges"] and given.t2i[0].image is None
    text = result.info["infotexts"][0]
    assert settings_from_parameters(text).more_ip_units == settings.more_ip_units


def _refused(url: str, args: list[dict[str, Any]]) -> str:
    body = {"prompt": "a cat", "steps": 2, "width": 64, "height": 64, "alwayson_scripts": {"controlnet": {"args": args}}}
    reply = requests.post(f"{url}sdapi/v1/txt2img", json=body, timeout=60)
    assert reply.status_code == 422, reply.text
    return reply.json()["detail"]


def cn(**fields: Any) -> dict[str, Any]:
    return {"enabled": True, "module": "canny", "model": "control_v11p_sd15_canny", "image": b64(image("room")), **fields}


def test_raw_requests_name_the_further_unit_at_fault(url: str) -> None:
    assert _refused(url, [cn(), cn(weight=3)]).startswith(f"{ARGS}[1]: scale: must be between 0 and 2")
    assert _refused(url, [cn(), cn(control_mode=2)]).startswith(f"{ARGS}[1].control_mode: ")
    assert _refused(url, [cn(), cn(threshold_a=50)]).startswith(f"{ARGS}[1].threshold_a: the request's canny units share")
    assert _refused(url, [cn(), cn(image=None)]).startswith(f"{ARGS}[1].image: this unit needs a control image")
    assert _refused(url, [cn()] * 5).startswith(f"{ARGS}[4]: at most 4 ControlNet unit")
    t2i = {"enabled": True, "module": "none", "model": "t2iadapter_canny_sd15v2", "image": b64(image("edges"))}
    assert _refused(url, [t2i, {**t2i, "guidance_start": 0.2}]).startswith(f"{ARGS}[1].guidance_start: ")


def test_each_structure_units_map_is_named_as_the_engine_names_it() -> None:
    from ipa_demo.sdapi.more_units import map_names
    from ipa_demo.sdapi.units import read_units

    t2i = {"enabled": True, "module": "canny", "model": "t2iadapter_canny_sd15v2", "image": b64(image("room"))}
    depth = cn(module="depth", model="control_v11f1p_sd15_depth")
    units = read_units({"args": [cn(), depth, cn(), t2i, t2i]}, ARGS)
    assert map_names(units, units) == ("canny", "controlnet_unit_2-depth", "controlnet_unit_3-canny", "canny",
                                       "t2i_unit_2-canny")  # fmt: skip


def test_each_controlnet_unit_has_its_control_mode(url: str, engine: FakeEngine) -> None:
    depth = {"module": "depth", "model": "control_v11f1p_sd15_depth"}
    body = {"prompt": "a room", "steps": 2, "width": 64, "height": 64, "seed": 5, "alwayson_scripts": {"controlnet": {
        "args": [cn(control_mode=1), cn(**depth, control_mode=0), cn(control_mode="My prompt is more important")]}}}
    reply = requests.post(f"{url}sdapi/v1/txt2img", json=body, timeout=60)
    assert reply.status_code == 200, reply.text
    settings, _ = engine.last_units
    assert settings.controlnet.soft and not settings.guess_mode
    assert [unit.soft for unit in settings.more_controlnet_units] == [False, True]
    read = settings_from_parameters(json.loads(reply.json()["info"])["infotexts"][0])
    assert read.controlnet.soft and read.more_controlnet_units == settings.more_controlnet_units

    body["alwayson_scripts"]["controlnet"]["args"] = [cn(control_mode=2), cn(**depth, control_mode=2)]
    assert requests.post(f"{url}sdapi/v1/txt2img", json=body, timeout=60).status_code == 200
    settings, _ = engine.last_units
    assert settings.guess_mode and settings.controlnet.soft and settings.more_controlnet_units[0].soft
    assert _refused(url, [cn(control_mode=2), cn(**depth)]).startswith(f"{ARGS}[1].control_mode: ")

    t2i = {"enabled": True, "module": "none", "model": "t2iadapter_canny_sd15v2", "image": b64(image("edges"))}
    body["alwayson_scripts"]["controlnet"]["args"] = [t2i, {**t2i, "control_mode": 1}]
    reply = requests.post(f"{url}sdapi/v1/txt2img", json=body, timeout=60)
    assert reply.status_code == 200, reply.text
    settings, _ = engine.last_units
    assert not settings.t2i.soft and settings.more_t2i_units[0].soft
    read = settings_from_parameters(json.loads(reply.json()["info"])["infotexts"][0])
    assert read.more_t2i_units == settings.more_t2i_units
