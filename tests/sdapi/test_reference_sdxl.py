"""The extension's reference units on an SDXL ``sd_model_checkpoint``: a txt2img request naming the server's
SDXL model with a ``reference_adain+attn`` unit runs on SDXL and equals ``/generate`` with the same settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from ipa_demo.engine import Engine
from ipa_demo.models.catalog_sdxl import SDXL_BASE
from ipa_demo.models.sources import ModelSources
from ipa_demo.ui.app import create_app, launch_options

from ..helpers import noise_image
from ..ui.test_app import served
from .test_routes import b64, decoded, pixels, post

SMALL = {"prompt": "a red bicycle", "steps": 2, "width": 64, "height": 64, "seed": 21, "cfg_scale": 5.0,
         "sampler_name": "Euler"}  # fmt: skip


@pytest.fixture(scope="module")
def engine(tiny_models_dir: Path) -> Engine:
    return Engine(ModelSources(tiny_models_dir), base_model_options=[SDXL_BASE.repo_id])


@pytest.fixture(scope="module")
def url(engine: Engine) -> Iterator[str]:
    with served(create_app(engine, with_examples=False), **launch_options()) as address:
        yield address


@pytest.mark.parametrize("module", ["reference_only", "reference_adain", "reference_adain+attn"])
def test_a_reference_unit_on_the_sdxl_model_equals_generate(engine: Engine, url: str, tmp_path, module: str) -> None:
    sdxl = engine.base_models.names[1]
    picture = noise_image(64, 64, seed=9)
    picture.save(tmp_path / "reference.png")
    unit = {"enabled": True, "module": module, "image": b64(picture), "weight": 1.0, "threshold_a": 0.7,
            "guidance_end": 0.9}  # fmt: skip
    payload = {**SMALL, "override_settings": {"sd_model_checkpoint": sdxl},
               "alwayson_scripts": {"controlnet": {"args": [unit]}}}  # fmt: skip
    reply = post(url, "sdapi/v1/txt2img", payload)
    assert reply.status_code == 200, reply.text
    through_api = decoded(reply.json()["images"][0])
    assert f"Model: {sdxl}" in through_api.info["parameters"]
    mode = {"reference_only": "attn", "reference_adain": "adain", "reference_adain+attn": "attn+adain"}[module]
    gallery, *_ = Client(url, verbose=False).predict(
        prompt="a red bicycle", steps=2, width=64, height=64, seed=21, guidance=5.0, scheduler="Euler",
        ip_scale=0.0, ref_only=mode, ref_weight=1.0, ref_fidelity=0.7, ref_end=0.9, base_model=sdxl,
        reference_images=[{"image": handle_file(str(tmp_path / "reference.png"))}], api_name="/generate",
    )  # fmt: skip
    through_web = Image.open(gallery[0]["image"])
    assert np.abs(pixels(through_api) - pixels(through_web)).max() <= 1
    assert through_api.info["parameters"] == through_web.info["parameters"]
    without = post(url, "sdapi/v1/txt2img", {**payload, "alwayson_scripts": {}})
    assert np.abs(pixels(decoded(without.json()["images"][0])) - pixels(through_api)).max() >= 2  # the unit acted
