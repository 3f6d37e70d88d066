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
import torch
from diffusers import StableDiffusionPipeline

from ipa_demo.engine import Engine
from ipa_demo.reference_only.guidance import NOISE_EACH_GUIDANCE_HALF
from ipa_demo.schedulers import make_scheduler
from ipa_demo.settings import GenerationSettings, IPAdapterSettings, ReferenceOnlySettings

from ..community_reference import community_reference
from ..helpers import noise_image
from ..reference_pipelines import ReferencePipeline

PLAIN = GenerationSettings(
    prompt="a cat on a sofa", negative_prompt="ugly", seed=5, width=64, height=64, steps=3, guidance=5.0,
    scheduler="Euler", ip=IPAdapterSettings(scale=0.0),
)  # fmt: skip
MODES = {"attn": (True, False), "adain": (False, True), "attn+adain": (True, True)}  # ours -> the pipeline's flags


def with_reference(settings: GenerationSettings = PLAIN, **options: object) -> GenerationSettings:
    chosen = ReferenceOnlySettings(**{"mode": "attn+adain", **options})  # type: ignore[arg-type]
    return replace(settings, reference_only=chosen)


@pytest.fixture(scope="module")
def pipe(tiny_models_dir: Path) -> StableDiffusionPipeline:
    pipe = ReferencePipeline.load(tiny_models_dir).pipe
    for component in pipe.components.values():  # frozen as the engine's: the same CPU attention kernel
        if isinstance(component, torch.nn.Module):
            component.requires_grad_(False)
    return pipe


@pytest.fixture(scope="module")
def picture():
    return noise_image(64, 64, seed=21)  # the generation's size: the pipeline stretches, the engine crops


def community(pipe: StableDiffusionPipeline, settings: GenerationSettings, picture) -> np.ndarray:
    options = settings.reference_only
    attn, adain = MODES[options.mode]
    pipe.scheduler = make_scheduler(settings.scheduler, pipe.scheduler.config)
    return community_reference(
        pipe, prompt=settings.prompt, negative_prompt=settings.negative_prompt or None, ref_image=picture,
        height=settings.height, width=settings.width, steps=settings.steps, guidance=settings.guidance,
        generators=[torch.Generator().manual_seed(seed) for seed in settings.image_seeds],
        reference_attn=attn, reference_adain=adain, style_fidelity=options.fidelity,
        attention_auto_machine_weight=options.weight, gn_auto_machine_weight=options.weight,
    )  # fmt: skip


PARITY = {
    "attn": with_reference(PLAIN, mode="attn"),
    "adain": with_reference(PLAIN, mode="adain"),
    "attn+adain": with_reference(PLAIN),
    "fidelity-0": with_reference(PLAIN, fidelity=0.0),
    "fidelity-1-euler-a": with_reference(replace(PLAIN, scheduler="Euler a"), fidelity=1.0),
    "weight-0.6": with_reference(PLAIN, weight=0.6),
    "cfg-2-images": with_reference(replace(PLAIN, num_images=2)),
    "no-cfg-2-images": with_reference(replace(PLAIN, guidance=1.0, num_images=2)),
}


@pytest.mark.parametrize("case", PARITY)
def test_exact_mode_equals_the_community_pipeline(engine: Engine, pipe, picture, case: str) -> None:
    settings = PARITY[case]
    ours = engine.generate(settings, [picture]).pixels
    theirs = community(pipe, settings, picture)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= 1e-4
    plain = engine.generate(replace(settings, reference_only=ReferenceOnlySettings(mode="off")), [picture]).pixels
    assert np.abs(ours - plain).max() * 255 >= 2, "the reference did not act: the parity would be of txt2img"


def test_the_parity_can_fail_the_reference_noise_is_both_halves_alike(engine: Engine, pipe, picture, monkeypatch) -> None:
    """Drawn for each CFG half (SDXL's pipeline), the reference's noise would not equal SD 1.5's."""
    monkeypatch.setitem(NOISE_EACH_GUIDANCE_HALF, "sd15", True)
    settings = PARITY["attn+adain"]
    assert np.abs(engine.generate(settings, [picture]).pixels - community(pipe, settings, picture)).max() > 1e-3
