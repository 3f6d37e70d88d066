"""References, fully (issue 14): parity with diffusers' IP-Adapter on the tiny set, and invariants."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ipa_demo.engine import Engine
from ipa_demo.ip_adapter.layers import MASK_PRESETS, WEIGHT_CURVES, diffusers_scale_dict, weights_from_mask

from .reference_pipelines import ReferencePipeline
from .test_pipeline import TOLERANCE, settings_for

SCHEDULERS = ("DPM++ 2M Karras", "Euler a")
LAYER_WEIGHTS = (0.0, 0.3, 1.2, 2.5, 0.7, 0.0, 1.0, 3.0, 0.2, 0.9, 1.5, 0.4, 0.0, 2.0, 1.1, 0.6)


def biggest_difference(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.abs(ours - theirs).max())


@pytest.fixture(scope="module")
def base_pipe(tiny_models_dir: Path) -> ReferencePipeline:
    return ReferencePipeline.load(tiny_models_dir, "base")


# --- 1. per-layer float weights ---------------------------------------------------------------


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_per_layer_weights_equal_diffusers_per_block_lists(
    engine: Engine, base_pipe: ReferencePipeline, reference, scheduler: str
) -> None:
    settings = settings_for(scheduler, scale=0.8, layer_weights=LAYER_WEIGHTS)
    ours = engine.generate(settings, [reference]).pixels
    theirs = base_pipe.run(settings, ip_scale=diffusers_scale_dict(settings.ip.layer_scales), reference=reference)
    assert biggest_difference(ours, theirs) <= TOLERANCE
    uniform = base_pipe.run(settings, ip_scale=0.8, reference=reference)
    assert biggest_difference(ours, uniform) > 0.01, "the weights should change the image"


def test_weights_override_the_mask_and_the_mask_is_their_shorthand(engine: Engine, reference) -> None:
    stages = (1.0, 0.5, 2.0, 0.0, 1.5, 1.0, 0.25)
    shorthand = settings_for("Euler a", scale=0.9, mask=MASK_PRESETS["style+composition"], stage_weights=stages)
    explicit = replace(shorthand, ip=replace(shorthand.ip, layer_weights=weights_from_mask(shorthand.ip.mask, stages)))
    overridden = replace(shorthand, ip=replace(shorthand.ip, layer_weights=WEIGHT_CURVES["ease in"]))
    pixels = [engine.generate(settings, [reference]).pixels for settings in (shorthand, explicit, overridden)]
    assert np.array_equal(pixels[0], pixels[1])
    assert biggest_difference(pixels[0], pixels[2]) > 0.01
