"""The A1111 API served by the app itself, driven by the ``webuiapi`` client and by raw HTTP.

The app is started as ``app.py`` starts it (``launch_options``: the request guard, which routes
``/sdapi`` and ``/controlnet`` to the API), on the tiny models.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import requests
import webuiapi
from gradio_client import Client
from PIL import Image

from ipa_demo.models.catalog import CONTROLNETS
from ipa_demo.sdapi.lists import CONTROL_MODELS
from ipa_demo.ui.app import create_app, launch_options

from ..helpers import noise_image
from ..ui.test_app import served

SMALL = {"prompt": "a red bicycle", "steps": 2, "width": 64, "height": 64, "seed": 21, "cfg_scale": 7.5}


def b64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def decoded(text: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(text)))


@pytest.fixture(scope="module")
def url(engine) -> Iterator[str]:
    with served(create_app(engine, with_examples=False), **launch_options()) as address:
        yield address


@pytest.fixture(scope="module")
def api(url: str) -> webuiapi.WebUIApi:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    return webuiapi.WebUIApi(host=host, port=int(port), sampler="Euler a", steps=2)


def post(url: str, path: str, payload: Any) -> requests.Response:
    return requests.post(f"{url}{path.lstrip('/')}", json=payload, timeout=120)


def test_txt2img_answers_as_a1111(url: str) -> None:
    reply = post(url, "sdapi/v1/txt2img", {**SMALL, "batch_size": 2, "n_iter": 2, "sampler_name": "Euler a"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    info = json.loads(body["info"])
    assert info["all_seeds"] == [21, 22, 23, 24] and info["seed"] == 21
    assert len(body["images"]) == 4 and len(info["infotexts"]) == 4
    for key in ("prompt", "negative_prompt", "width", "height", "steps", "cfg_scale", "sampler_name", "sd_model_name",
                "sd_model_hash", "index_of_first_image", "job_timestamp"):  # fmt: skip
        assert key in info, key
    first = decoded(body["images"][0])
    assert first.size == (64, 64) and "Seed: 21" in first.info["parameters"]
    assert body["parameters"]["prompt"] == "a red bicycle"


def model_named(part: str) -> str:
    return next(title for title in webuiapi_titles() if part in title)


def webuiapi_titles() -> list[str]:
    return [model.title for model in CONTROL_MODELS]


def test_webuiapi_txt2img_with_an_ip_adapter_unit_and_a_canny_unit(api: webuiapi.WebUIApi) -> None:
    models = api.controlnet_model_list()
    ip_model = next(name for name in models if "ip-adapter_sd15 [" in name)
    canny_model = next(name for name in models if "sd15_canny" in name)
    units = [
        webuiapi.ControlNetUnit(image=noise_image(80, 64, seed=4), module="ip-adapter_clip_sd15", model=ip_model,
                                weight=0.8),
        webuiapi.ControlNetUnit(image=noise_image(64, 64, seed=5), module="canny", model=canny_model,
                                threshold_a=50, threshold_b=150, resize_mode="Crop and Resize"),
    ]  # fmt: skip
    result = api.txt2img(prompt="a cat", seed=3, width=64, height=64, cfg_scale=7.5, controlnet_units=units)
    assert len(result.images) == 2, result.info["infotexts"]
    assert result.info["all_seeds"] == [3]
    text = result.images[0].info["parameters"]
    assert "IP scale: 0.8" in text and "ControlNet: canny" in text and "Canny thresholds: 50-150" in text, text
    detected = np.asarray(result.images[1].convert("L"))
    assert set(np.unique(detected)) <= {0, 255}, "a canny map is black and white"
