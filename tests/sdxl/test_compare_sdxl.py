"""The Compare tab on SDXL: with the SDXL base model picked for the request (as the page's picker does on a
server started with SD 1.5 first), IP-Adapter, reference-only and img2img each run on SDXL through the
function the tab calls, each exactly as it gives alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ipa_demo.compare import ComparisonResult, compare
from ipa_demo.engine import Engine
from ipa_demo.models.catalog_sdxl import SDXL_BASE
from ipa_demo.models.sources import ModelSources
from ipa_demo.settings import GenerationSettings, IPAdapterSettings, ReferenceOnlySettings

from ..helpers import noise_image

SETTINGS = GenerationSettings(
    prompt="a lighthouse", seed=11, width=64, height=64, steps=3, strength=0.6, scheduler="Euler",
    ip=IPAdapterSettings(scale=0.7),
)  # fmt: skip


@pytest.fixture(scope="module")
def engine(tiny_models_dir: Path) -> Engine:
    return Engine(ModelSources(tiny_models_dir), base_model_options=[SDXL_BASE.repo_id])


@pytest.fixture(scope="module")
def sdxl(engine: Engine) -> str:
    names = engine.base_models.names
    assert len(names) == 2
    return names[1]


@pytest.fixture(scope="module")
def picture():
    return noise_image(96, 72, seed=4)


@pytest.fixture(scope="module")
def comparison(engine: Engine, sdxl: str, picture) -> ComparisonResult:
    return compare(engine, replace(SETTINGS, base_model=sdxl), picture)


def test_every_method_runs_on_the_picked_sdxl_model(comparison: ComparisonResult, sdxl: str) -> None:
    labels = [entry.label for entry in comparison.entries]
    assert labels == ["Reference-only (attn)", "img2img (strength 0.6)", "IP-Adapter (λ 0.7)"]
    for entry in comparison.entries:
        assert f"Model: {sdxl}" in entry.parameters and entry.settings.base_model == sdxl
        assert entry.image.size == (64, 64) and -1.0 <= entry.similarity <= 1.0


def test_each_output_is_what_it_gives_alone_and_differs_from_plain_sdxl(engine, comparison, sdxl, picture) -> None:
    plain = engine.generate(replace(SETTINGS, base_model=sdxl, ip=IPAdapterSettings(scale=0.0)), [picture]).pixels[0]
    for entry in comparison.entries:
        alone = engine.generate(
            entry.settings, [picture], init_image=picture if entry.label.startswith("img2img") else None
        )
        assert np.array_equal(np.asarray(alone.images[0]), np.asarray(entry.image)), entry.label
        assert np.abs(np.asarray(entry.image, dtype=np.float64) / 255 - plain).max() * 255 >= 2, entry.label
    assert comparison.entries[0].settings.reference_only == ReferenceOnlySettings(mode="attn", fast=True)


def test_the_chosen_reference_mode_runs_exact_on_sdxl(engine, sdxl, picture) -> None:
    chosen = ReferenceOnlySettings(mode="attn+adain", fidelity=0.8)
    result = compare(engine, replace(SETTINGS, base_model=sdxl, reference_only=chosen), picture)
    entry = result.entries[0]
    assert entry.label == "Reference-only (attn+adain)" and entry.settings.reference_only == chosen
    assert "Model: " + sdxl in entry.parameters
