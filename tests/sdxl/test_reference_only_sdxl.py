"""Reference-only on SDXL: exact mode equals diffusers' community ``StableDiffusionXLReferencePipeline``
(max |d| <= 1e-4 on the tiny SDXL twin), and the invariants the SD 1.5 tests hold: inactive is
bit-identical to txt2img, the reference matters, no state stays in the UNet, the fast single call
equals writing then reading, and it runs beside IP-Adapter and the structure units.

The community file is not in the wheel and cannot be fetched here: ``community_reference`` is our own rewrite
of its computation, built as that file is (replaced forwards), not as the engine is (processors and
hooks). Behaviours of the community pipeline it follows, each reached by a case below: its
``attention_auto_machine_weight`` rule (transformer blocks widest first by ``norm1``, block i of n
reads when weight > i/n: "weight-0.6"); its ``gn_auto_machine_weight`` AdaIN thresholds (mid block
always, down block w of n when weight >= 2(1 - w/n), up block w when >= 2w/n; population variance,
std floored at sqrt(1e-6)); its ``style_fidelity`` blend f * (unconditional rows without the
reference) + (1 - f) * (all rows with it), in attention and AdaIN alike ("fidelity-0", 0.5,
"fidelity-1-..."); the reference's pass with the step's text, pooled text and time ids; the reference
latent sampled with the image's generator after the initial noise, doubled under CFG and re-noised
every step with noise for each half ("...-each-half-matters" shows the parity fails otherwise); the
scheduler's own noise drawn after the reference's ("Euler a"). Not compared: a reference of another
size (the pipeline stretches it, the engine crops as A1111 does: the picture here is at the
generation size) and a batch under CFG (the pipeline then needs two generators per image and fails;
the engine draws each image's two rows from its own generator).
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionXLPipeline

from ipa_demo.engine import Engine
from ipa_demo.ip_adapter.attention import KEY, IPAttention
from ipa_demo.models.catalog_sdxl import SDXL_BASE
from ipa_demo.models.sources import ModelSources
from ipa_demo.reference_only.guidance import NOISE_EACH_GUIDANCE_HALF, adain_points_for, attention_layers_for
from ipa_demo.reference_only.state import BanksFilled, ReferencePass, activate
from ipa_demo.sdxl.text import SizeConditioning
from ipa_demo.settings import (
    ControlNetSettings,
    GenerationSettings,
    IPAdapterSettings,
    ReferenceOnlySettings,
    T2IAdapterSettings,
)
from ipa_demo.unet_call import UNetCall

from ..community_reference import MODES, community_run, frozen, parity_cases, reference_picture, with_reference
from ..helpers import noise_image

PLAIN = GenerationSettings(
    prompt="a cat on a sofa", negative_prompt="ugly", seed=5, width=64, height=64, steps=3, guidance=5.0,
    scheduler="Euler", ip=IPAdapterSettings(scale=0.0),
)  # fmt: skip
@pytest.fixture(scope="module")
def engine(tiny_models_dir: Path) -> Engine:
    return Engine(ModelSources(tiny_models_dir), base_model=SDXL_BASE.repo_id)


@pytest.fixture(scope="module")
def pipe(tiny_models_dir: Path) -> StableDiffusionXLPipeline:
    return frozen(StableDiffusionXLPipeline.from_pretrained(ModelSources(tiny_models_dir).local_path(SDXL_BASE)))


@pytest.fixture(scope="module")
def picture():
    return reference_picture()


@pytest.fixture(scope="module")
def plain(engine: Engine, picture) -> np.ndarray:
    return engine.generate(PLAIN, [picture]).pixels


PARITY = parity_cases(PLAIN, batch_under_cfg=False)  # the SDXL file takes one image under CFG


@pytest.mark.parametrize("case", PARITY)
def test_exact_mode_equals_the_community_pipeline(engine, pipe, picture, case: str) -> None:
    settings = PARITY[case]
    ours = engine.generate(settings, [picture]).pixels
    theirs = community_run(pipe, settings, picture)
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= 1e-4
    if settings.guidance > 1.0:  # the reference acted: the parity is not of txt2img
        plain = engine.generate(replace(settings, reference_only=ReferenceOnlySettings(mode="off")), [picture]).pixels
        assert np.abs(ours - plain).max() * 255 >= 2


def test_the_parity_can_fail_the_reference_noise_of_each_half_matters(engine, pipe, picture, monkeypatch) -> None:
    """Drawn once for both CFG halves (SD 1.5's pipeline), the reference's noise would not equal SDXL's."""
    monkeypatch.setitem(NOISE_EACH_GUIDANCE_HALF, "sdxl", False)
    settings = PARITY["attn+adain"]
    assert np.abs(engine.generate(settings, [picture]).pixels - community_run(pipe, settings, picture)).max() > 1e-3


@pytest.mark.parametrize("options", [{"weight": 0.0}, {"mode": "off"}, {"start": 0.5, "end": 0.5}])
def test_inactive_reference_is_bit_identical_to_txt2img(engine, picture, plain, options) -> None:
    assert np.array_equal(engine.generate(with_reference(PLAIN, **options), [picture]).pixels, plain)


@pytest.mark.parametrize("mode", list(MODES))
def test_fast_mode_changes_the_image(engine, picture, plain, mode: str) -> None:
    pixels = engine.generate(with_reference(PLAIN, mode=mode, fast=True), [picture]).pixels
    assert np.abs(pixels - plain).max() * 255 >= 2


def test_the_reference_image_matters(engine, picture) -> None:
    first = engine.generate(with_reference(PLAIN), [picture]).pixels
    other = engine.generate(with_reference(PLAIN), [noise_image(64, 64, seed=77)]).pixels
    assert np.abs(first - other).max() * 255 >= 2


def test_no_state_is_left_in_the_unet(engine, picture, plain) -> None:
    engine.generate(with_reference(PLAIN, fidelity=0.9), [picture])
    engine.generate(with_reference(PLAIN, fidelity=0.9, fast=True), [picture])
    assert np.array_equal(engine.generate(PLAIN, [picture]).pixels, plain)


def test_the_layers_are_the_unets_own(engine) -> None:
    """70 transformer blocks' self-attentions, and AdaIN at SDXL's plain and cross-attention blocks."""
    unet = engine.models.unet
    every = attention_layers_for(unet, 1.0)
    assert every == {block.name for block in engine.models.architecture.blocks} and len(every) == 70
    points = adain_points_for(unet, 1.0)  # three down and three up blocks: thresholds 2(1 - w/3) and 2w/3
    assert points == {"mid_block", "down_blocks.2.attentions.0", "down_blocks.2.attentions.1",
                      "up_blocks.0.attentions.0", "up_blocks.0.attentions.1", "up_blocks.0.attentions.2",
                      "up_blocks.1.attentions.0", "up_blocks.1.attentions.1", "up_blocks.1.attentions.2"}  # fmt: skip
    assert {"down_blocks.0.resnets.0", "up_blocks.2.resnets.2"} <= adain_points_for(unet, 2.0)


@pytest.mark.parametrize("mode", list(MODES))
def test_the_single_call_equals_writing_then_reading_with_the_added_conditioning(engine, mode: str) -> None:
    """Fast mode's one call = the reference written alone with row 1's text, pooled text and time ids, then
    read (exact mode's two calls); written with row 0's pooled text instead, it would not be."""
    unet, timestep = engine.models.unet, torch.tensor(500)
    generator = torch.Generator().manual_seed(0)
    latents, reference = torch.randn(2, 4, 8, 8, generator=generator), torch.randn(1, 4, 8, 8, generator=generator)
    text = engine.models.two_encoders.encode("a cat", "ugly", guided=True)
    added = text.added_cond_kwargs(SizeConditioning((64, 64)))
    tokens = torch.randn(2, 4, engine.models.architecture.cross_attention_dim, generator=generator)
    ip = IPAttention(engine.ip_adapter("vit-h"), tokens, (0.7,) * len(engine.models.architecture.modules))
    call = UNetCall(latents, text.embeddings, {KEY: (ip,)}, added_cond_kwargs=added)
    attn, adain = MODES[mode]
    layers = attention_layers_for(unet, 1.0) if attn else frozenset()
    points = adain_points_for(unet, 1.0) if adain else frozenset()

    def state(phase: str) -> ReferencePass:
        return ReferencePass(phase, layers, points, 0.5, torch.tensor([True, False]))  # type: ignore[arg-type]

    def written_then_read(row: int) -> torch.Tensor:
        writing = state("write")
        alone = UNetCall(reference, text.embeddings[1:], {KEY: (replace(ip, tokens=tokens[1:]),)},
                         added_cond_kwargs={name: value[row : row + 1] for name, value in added.items()})  # fmt: skip
        with activate(writing), suppress(BanksFilled):
            alone.run(unet, timestep)
        with activate(writing.reading()):
            return call.run(unet, timestep)

    with activate(state("single")):
        single = call.with_row_in_front(reference, copy_conditioning_of=1).run(unet, timestep)
    torch.testing.assert_close(single, written_then_read(1), atol=2e-5, rtol=1e-4)
    assert (single - written_then_read(0)).abs().max() > 1e-3
    assert (single - call.run(unet, timestep)).abs().max() > 1e-3  # the reference acted


@pytest.mark.parametrize("fast", [False, True])
def test_works_with_ip_adapter_controlnet_t2i_and_batches(engine, picture, fast: bool) -> None:
    settings = replace(
        with_reference(PLAIN, fast=fast),
        num_images=2,
        ip=IPAdapterSettings(scale=0.6, variant="vit-h"),
        controlnet=ControlNetSettings(kind="canny"),
        t2i=T2IAdapterSettings(kind="depth"),
    )
    control = noise_image(64, 64, seed=3)
    result = engine.generate(settings, [picture], control_image=control)
    alone = engine.generate(replace(settings, reference_only=ReferenceOnlySettings()), [picture], control_image=control)
    assert len(result.images) == 2 and np.abs(result.pixels - alone.pixels).max() * 255 >= 2
