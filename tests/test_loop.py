"""Parity: our loop against diffusers' stock pipelines, same tiny weights, same seeds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ipa_demo.architecture.layers import MASK_PRESETS, diffusers_scale_dict
from ipa_demo.engine import Engine
from ipa_demo.settings import GenerationSettings, IPAdapterSettings

from .helpers import noise_image
from .reference_pipelines import ReferencePipeline

TOLERANCE = 1e-4
SCHEDULERS = ("DPM++ 2M Karras", "Euler a", "DDIM")


def settings_for(scheduler: str, **ip: object) -> GenerationSettings:
    return GenerationSettings(
        prompt="a photo of a cat",
        negative_prompt="blurry",
        seed=1234,
        width=80,
        height=64,
        steps=5,
        guidance=6.0,
        scheduler=scheduler,
        num_images=2,
        ip=IPAdapterSettings(**ip),  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def plain_pipeline(tiny_models_dir: Path) -> ReferencePipeline:
    return ReferencePipeline.load(tiny_models_dir)


@pytest.fixture(scope="module", params=("base", "plus", "plus-face", "full-face"))
def ip_pipeline(request: pytest.FixtureRequest, tiny_models_dir: Path) -> tuple[str, ReferencePipeline]:
    return request.param, ReferencePipeline.load(tiny_models_dir, request.param)


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_txt2img_equals_diffusers(engine: Engine, plain_pipeline: ReferencePipeline, scheduler: str) -> None:
    settings = settings_for(scheduler, scale=0.0)
    ours = engine.generate(settings).pixels
    theirs = plain_pipeline.run(settings)
    assert np.abs(ours - theirs).max() <= TOLERANCE


@pytest.mark.parametrize("scheduler", SCHEDULERS[:2])
def test_ip_adapter_equals_diffusers(engine: Engine, ip_pipeline, reference, scheduler: str) -> None:
    variant, pipe = ip_pipeline
    settings = settings_for(scheduler, scale=0.7, variant=variant)
    ours = engine.generate(settings, [reference]).pixels
    theirs = pipe.run(settings, ip_scale=0.7, reference=reference)
    assert np.abs(ours - theirs).max() <= TOLERANCE
    without = pipe.run(settings, ip_scale=0.0, reference=reference)
    assert np.abs(ours - without).max() > 0.01, "the adapter should visibly change the image"


@pytest.fixture(scope="module")
def base_ip_pipeline(tiny_models_dir: Path) -> ReferencePipeline:
    return ReferencePipeline.load(tiny_models_dir, "base")


@pytest.mark.parametrize("preset", ("style", "composition"))
def test_layer_mask_equals_diffusers_scale_dict(
    engine: Engine, base_ip_pipeline: ReferencePipeline, reference, preset: str
) -> None:
    stage_weights = (1.0, 0.5, 1.0, 0.8, 1.0, 0.25, 1.0)
    settings = settings_for("Euler a", scale=0.9, mask=MASK_PRESETS[preset], stage_weights=stage_weights)
    ours = engine.generate(settings, [reference]).pixels
    scales = diffusers_scale_dict(settings.ip.layer_scales)
    theirs = base_ip_pipeline.run(settings, ip_scale=scales, reference=reference)
    assert np.abs(ours - theirs).max() <= TOLERANCE


@pytest.mark.parametrize("scheduler", SCHEDULERS[:2])
def test_img2img_equals_diffusers(engine: Engine, plain_pipeline: ReferencePipeline, scheduler: str) -> None:
    settings = replace(settings_for(scheduler, scale=0.0), strength=0.6)
    init = noise_image(settings.width, settings.height, seed=5)
    ours = engine.generate(settings, init_image=init).pixels
    theirs = plain_pipeline.run(settings, init_image=init)
    assert np.abs(ours - theirs).max() <= TOLERANCE


def test_img2img_with_ip_adapter_equals_diffusers(engine: Engine, ip_pipeline, reference) -> None:
    variant, pipe = ip_pipeline
    settings = replace(settings_for("DPM++ 2M Karras", scale=0.6, variant=variant), strength=0.7)
    init = noise_image(settings.width, settings.height, seed=6)
    ours = engine.generate(settings, [reference], init_image=init).pixels
    theirs = pipe.run(settings, ip_scale=0.6, reference=reference, init_image=init)
    assert np.abs(ours - theirs).max() <= TOLERANCE


def test_each_image_of_a_batch_is_reproducible_from_its_own_seed(engine: Engine, reference) -> None:
    batch = settings_for("Euler a", scale=0.5)
    second_alone = replace(batch, seed=batch.seed + 1, num_images=1)
    pixels = engine.generate(batch, [reference]).pixels
    alone = engine.generate(second_alone, [reference]).pixels
    # Batched and single matmuls may round differently on CPU; the noise must be the same.
    assert np.abs(pixels[1] - alone[0]).max() <= TOLERANCE
