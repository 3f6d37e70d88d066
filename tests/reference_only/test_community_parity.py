"""Reference-only on SD 1.5, exact mode: equal to diffusers' community ``StableDiffusionReferencePipeline``
(max |d| <= 1e-4 on the tiny set), as the SDXL tests hold it to ``StableDiffusionXLReferencePipeline``.

The community file is not in the wheel and cannot be fetched here: ``community_reference`` is our own
rewrite of its computation, built as that file is (replaced forwards), not as the engine is (processors
and hooks). The cases reach its attention weight rule ("weight-0.6"), its AdaIN thresholds, its style
fidelity blend ("fidelity-0", 0.5, "fidelity-1-..."), its one noise per image for both CFG halves
("...-both-halves-alike" shows the parity fails otherwise), the scheduler's own noise drawn after the
reference's ("Euler a"), and batches with and without CFG. Not compared: a reference of another size
(the pipeline stretches it, the engine crops as A1111 does: the picture here is at the generation size).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from diffusers import StableDiffusionPipeline

from ipa_demo.engine import Engine
from ipa_demo.reference_only.guidance import NOISE_EACH_GUIDANCE_HALF
from ipa_demo.settings import GenerationSettings, IPAdapterSettings, ReferenceOnlySettings

from ..community_reference import community_run, frozen, parity_cases, reference_picture
from ..reference_pipelines import ReferencePipeline

PLAIN = GenerationSettings(
    prompt="a cat on a sofa", negative_prompt="ugly", seed=5, width=64, height=64, steps=3, guidance=5.0,
    scheduler="Euler", ip=IPAdapterSettings(scale=0.0),
)  # fmt: skip
PARITY = parity_cases(PLAIN, batch_under_cfg=True)


@pytest.fixture(scope="module")
def pipe(tiny_models_dir: Path) -> StableDiffusionPipeline:
    return frozen(ReferencePipeline.load(tiny_models_dir).pipe)


@pytest.fixture(scope="module")
def picture():
    return reference_picture()


@pytest.mark.parametrize("case", PARITY)
def test_exact_mode_equals_the_community_pipeline(engine: Engine, pipe, picture, case: str) -> None:
    settings = PARITY[case]
    ours = engine.generate(settings, [picture]).pixels
    theirs = community_run(pipe, settings, picture)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= 1e-4
    plain = engine.generate(replace(settings, reference_only=ReferenceOnlySettings(mode="off")), [picture]).pixels
    assert np.abs(ours - plain).max() * 255 >= 2, "the reference did not act: the parity would be of txt2img"


def test_the_parity_can_fail_the_reference_noise_is_both_halves_alike(engine: Engine, pipe, picture, monkeypatch) -> None:
    """Drawn for each CFG half (SDXL's pipeline), the reference's noise would not equal SD 1.5's."""
    monkeypatch.setitem(NOISE_EACH_GUIDANCE_HALF, "sd15", True)
    settings = PARITY["attn+adain"]
    assert np.abs(engine.generate(settings, [picture]).pixels - community_run(pipe, settings, picture)).max() > 1e-3
