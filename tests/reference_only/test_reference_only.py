"""Reference-only: what must be identical, what must change, and which layers it touches."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ipa_demo.engine import Engine
from ipa_demo.reference_only.guidance import adain_points_for, attention_layers_for
from ipa_demo.settings import (
    ControlNetSettings,
    GenerationSettings,
    IPAdapterSettings,
    ReferenceOnlySettings,
    T2IAdapterSettings,
)

from ..helpers import noise_image

PLAIN = GenerationSettings(
    prompt="a cat on a sofa",
    negative_prompt="ugly",
    seed=5,
    width=64,
    height=64,
    steps=4,
    scheduler="Euler a",
    ip=IPAdapterSettings(scale=0.0),
)


def with_reference(**options: object) -> GenerationSettings:
    return replace(PLAIN, reference_only=ReferenceOnlySettings(**{"mode": "attn", **options}))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def plain(engine: Engine, reference) -> np.ndarray:
    return engine.generate(PLAIN, [reference]).pixels


@pytest.mark.parametrize("options", [{"weight": 0.0}, {"mode": "off"}, {"start": 0.5, "end": 0.5}])
def test_inactive_reference_is_bit_identical_to_txt2img(engine, reference, plain, options) -> None:
    assert np.array_equal(engine.generate(with_reference(**options), [reference]).pixels, plain)


@pytest.mark.parametrize("mode", ["attn", "adain", "attn+adain"])
@pytest.mark.parametrize("fast", [False, True])
def test_each_mode_changes_the_image(engine, reference, plain, mode: str, fast: bool) -> None:
    pixels = engine.generate(with_reference(mode=mode, fast=fast), [reference]).pixels
    assert np.abs(pixels - plain).max() > 0.01


def test_the_reference_image_matters(engine, reference) -> None:
    first = engine.generate(with_reference(), [reference]).pixels
    other = engine.generate(with_reference(), [noise_image(64, 64, seed=77)]).pixels
    assert not np.array_equal(first, other)


def test_style_fidelity_matters_under_cfg(engine, reference) -> None:
    low = engine.generate(with_reference(mode="attn+adain", fidelity=0.0), [reference]).pixels
    high = engine.generate(with_reference(mode="attn+adain", fidelity=1.0), [reference]).pixels
    assert not np.array_equal(low, high)


@pytest.mark.parametrize("fast", [False, True])
def test_style_fidelity_has_no_effect_without_cfg(engine, reference, fast: bool) -> None:
    runs = [
        engine.generate(
            replace(with_reference(mode="attn+adain", fidelity=fidelity, fast=fast), guidance=1.0), [reference]
        ).pixels
        for fidelity in (0.0, 0.5, 1.0)
    ]
    assert np.array_equal(runs[0], runs[1]) and np.array_equal(runs[0], runs[2])


def test_fast_is_an_approximation_of_exact(engine, reference) -> None:
    exact = engine.generate(with_reference(), [reference]).pixels
    fast = engine.generate(with_reference(fast=True), [reference]).pixels
    assert not np.array_equal(exact, fast)


def test_no_state_is_left_in_the_unet(engine, reference, plain) -> None:
    engine.generate(with_reference(mode="attn+adain", fidelity=0.9), [reference])
    assert np.array_equal(engine.generate(PLAIN, [reference]).pixels, plain)


def test_works_with_ip_adapter_controlnet_t2i_and_batches(engine, reference) -> None:
    settings = replace(
        with_reference(mode="attn+adain", fast=True),
        num_images=2,
        ip=IPAdapterSettings(scale=0.6),
        controlnet=ControlNetSettings(kind="canny"),
        t2i=T2IAdapterSettings(kind="depth"),
    )
    result = engine.generate(settings, [reference], control_image=noise_image(64, 64, seed=3))
    alone = engine.generate(replace(settings, reference_only=ReferenceOnlySettings()), [reference],
                            control_image=noise_image(64, 64, seed=3))  # fmt: skip
    assert len(result.images) == 2 and not np.array_equal(result.pixels, alone.pixels)


def test_weight_selects_the_widest_self_attentions_first(engine) -> None:
    unet = engine.models.unet
    assert len(attention_layers_for(unet, 1.0)) == 16
    half = attention_layers_for(unet, 0.5)
    assert len(half) == 8
    every = attention_layers_for(unet, 1.0)

    def width(name: str) -> int:
        return unet.get_submodule(name).norm1.normalized_shape[0]

    assert min(map(width, half)) >= max(map(width, every - half))
    assert attention_layers_for(unet, 0.0) == frozenset()


def test_adain_thresholds_follow_the_community_pipeline(engine) -> None:
    points = adain_points_for(engine.models.unet, 1.0)
    blocks = {point.split(".attentions")[0].split(".resnets")[0] for point in points}
    # weight 1 reaches down blocks 2-3, the mid block and up blocks 0-2 (thresholds 2(1-w/4) and 2w/4).
    assert blocks == {"down_blocks.2", "down_blocks.3", "mid_block", "up_blocks.0", "up_blocks.1", "up_blocks.2"}
    assert len(adain_points_for(engine.models.unet, 2.0)) == 1 + 4 * 2 + 4 * 3
