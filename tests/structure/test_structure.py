"""ControlNet and T2I-Adapter in our loop: parity with diffusers' pipelines, and their invariants."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ipa_demo.engine import Engine
from ipa_demo.settings import ControlNetSettings, GenerationSettings, IPAdapterSettings, T2IAdapterSettings

from ..helpers import noise_image
from ..reference_pipelines import ReferencePipeline

TOLERANCE = 1e-4
BASE = GenerationSettings(
    prompt="a house by a lake",
    negative_prompt="blurry",
    seed=21,
    width=80,
    height=64,
    steps=4,
    guidance=6.0,
    scheduler="Euler a",
    num_images=2,
    control_is_map=True,
    ip=IPAdapterSettings(scale=0.0),
)


def structured(**changes: object) -> GenerationSettings:
    return replace(BASE, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def control_map() -> Image.Image:
    """A ready-made map: bright strokes on black, like a canny map (used as is)."""
    pixels = np.zeros((BASE.height, BASE.width, 3), dtype=np.uint8)
    pixels[10:14, :, :] = 255
    pixels[:, 30:33, :] = 255
    return Image.fromarray(pixels)


@pytest.fixture(scope="module")
def without_structure(engine: Engine, control_map) -> np.ndarray:
    return engine.generate(BASE, control_image=control_map).pixels


@pytest.fixture(scope="module")
def ip_pipeline(tiny_models_dir: Path) -> ReferencePipeline:
    return ReferencePipeline.load(tiny_models_dir, "base")


@pytest.fixture(scope="module")
def plain_pipeline(tiny_models_dir: Path) -> ReferencePipeline:
    return ReferencePipeline.load(tiny_models_dir)


@pytest.mark.parametrize(
    "options",
    [
        ControlNetSettings(kind="canny", scale=0.9),
        ControlNetSettings(kind="depth", scale=1.0, start=0.25, end=0.75),
        ControlNetSettings(kind="canny", scale=0.8, guess_mode=True),
        ControlNetSettings(kind="openpose", scale=0.7),
    ],
    ids=["canny", "depth-window", "guess-mode", "openpose"],
)
def test_controlnet_with_ip_equals_diffusers(engine, ip_pipeline, reference, control_map, options) -> None:
    settings = structured(controlnet=options, ip=IPAdapterSettings(scale=0.6))
    ours = engine.generate(settings, [reference], control_image=control_map).pixels
    theirs = ip_pipeline.run(
        settings, ip_scale=0.6, reference=reference, controlnet=engine.controlnet(options.kind), control_map=control_map
    )
    assert np.abs(ours - theirs).max() <= TOLERANCE


@pytest.mark.parametrize("kind", ["canny", "depth", "openpose"])
def test_t2i_adapter_equals_diffusers(engine, plain_pipeline, control_map, kind: str) -> None:
    settings = structured(t2i=T2IAdapterSettings(kind=kind, scale=0.8))
    ours = engine.generate(settings, control_image=control_map).pixels
    adapter = engine.t2i_adapter(kind)
    # diffusers takes the map as given: the canny adapter reads one channel.
    given = control_map.convert("L") if adapter.config.in_channels == 1 else control_map
    theirs = plain_pipeline.run(settings, adapter=adapter, control_map=given)
    assert np.abs(ours - theirs).max() <= TOLERANCE


@pytest.mark.parametrize(
    "changes",
    [
        {"controlnet": ControlNetSettings(kind="canny", scale=0.0)},
        {"controlnet": ControlNetSettings(kind="canny", start=0.5, end=0.5)},
        {"t2i": T2IAdapterSettings(kind="depth", scale=0.0)},
        {"t2i": T2IAdapterSettings(kind="depth", factor=0.0)},
    ],
    ids=["controlnet-scale-0", "controlnet-empty-window", "t2i-scale-0", "t2i-factor-0"],
)
def test_inactive_conditioner_is_bit_identical_to_none(engine, control_map, without_structure, changes) -> None:
    assert np.array_equal(engine.generate(structured(**changes), control_image=control_map).pixels, without_structure)


@pytest.fixture(scope="module")
def conditioned(engine: Engine, control_map) -> dict[str, np.ndarray]:
    runs = {
        "controlnet": structured(controlnet=ControlNetSettings(kind="canny")),
        "t2i": structured(t2i=T2IAdapterSettings(kind="canny")),
        "both": structured(controlnet=ControlNetSettings(kind="canny"), t2i=T2IAdapterSettings(kind="depth")),
    }
    return {name: engine.generate(settings, control_image=control_map).pixels for name, settings in runs.items()}


def test_each_conditioner_changes_the_image(conditioned, without_structure) -> None:
    for name in ("controlnet", "t2i"):
        assert np.abs(conditioned[name] - without_structure).max() > 0.01, name


def test_controlnet_and_t2i_together_differ_from_each_alone(conditioned) -> None:
    assert not np.array_equal(conditioned["both"], conditioned["controlnet"])
    assert not np.array_equal(conditioned["both"], conditioned["t2i"])


def test_t2i_with_ip_adapter_runs_and_lambda_0_equals_t2i_alone(engine, reference, control_map) -> None:
    t2i = T2IAdapterSettings(kind="depth")
    alone = engine.generate(structured(t2i=t2i), [reference], control_image=control_map).pixels
    lambda_0 = engine.generate(structured(t2i=t2i, ip=IPAdapterSettings(scale=0.0)), [reference], control_image=control_map)
    with_ip = engine.generate(structured(t2i=t2i, ip=IPAdapterSettings(scale=0.8)), [reference], control_image=control_map)
    assert np.array_equal(lambda_0.pixels, alone)
    assert not np.array_equal(with_ip.pixels, alone)


def test_img2img_with_controlnet_and_t2i_runs(engine, reference, control_map) -> None:
    settings = structured(
        controlnet=ControlNetSettings(kind="depth"), t2i=T2IAdapterSettings(kind="canny"), strength=0.5, num_images=1
    )
    result = engine.generate(settings, [reference], init_image=noise_image(80, 64, seed=3), control_image=control_map)
    assert result.images[0].size == (80, 64)
    assert set(result.control_maps) == {"depth", "canny"}


def test_photo_is_preprocessed_and_the_map_returned_at_generation_size(engine) -> None:
    photo = noise_image(200, 120, seed=8)
    settings = structured(control_is_map=False, controlnet=ControlNetSettings(kind="depth"), num_images=1)
    result = engine.generate(settings, control_image=photo)
    assert result.control_maps["depth"].size == (settings.width, settings.height)
