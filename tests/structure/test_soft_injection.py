"""Soft injection (the A1111 extension's control modes 1 and 2) against diffusers' ControlNetModel and
T2IAdapter, their outputs scaled by hand."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from ipa_demo.conditioner import BatchLayout
from ipa_demo.engine import Engine
from ipa_demo.settings import ControlNetSettings, T2IAdapterSettings
from ipa_demo.structure.controlnet import ControlNetGuidance, controlnet_residuals, soft_factors
from ipa_demo.structure.t2i_adapter import T2IGuidance

from .test_structure import BASE, structured

SCALE = 0.8


@pytest.fixture(scope="module")
def control_map() -> Image.Image:
    pixels = np.zeros((BASE.height, BASE.width, 3), dtype=np.uint8)
    pixels[20:24, :, :] = 255
    pixels[:, 40:43, :] = 255
    return Image.fromarray(pixels)


def test_the_factors_are_the_extensions() -> None:
    factors = soft_factors(13)
    assert factors[-1] == 1.0 and factors[0] == pytest.approx(0.825**12)
    assert all(later / earlier == pytest.approx(1 / 0.825) for earlier, later in zip(factors, factors[1:]))


def _inputs(engine: Engine, control_map: Image.Image) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(3)
    sample = torch.randn((4, 4, BASE.height // 8, BASE.width // 8), generator=generator)  # CFG: 2 images × 2 halves
    text = torch.randn((4, 77, engine.models.unet.config.cross_attention_dim), generator=generator)
    pixels = torch.from_numpy(np.asarray(control_map, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    return sample, torch.tensor(500), text, pixels


def _ours(engine: Engine, control_map: Image.Image, options: ControlNetSettings, guess_mode: bool) -> list[torch.Tensor]:
    layout = BatchLayout(num_images=2, guided=True, device=torch.device("cpu"))
    guidance = ControlNetGuidance.prepare(engine.controlnet("canny"), control_map, options, layout, guess_mode=guess_mode)
    sample, timestep, text, _ = _inputs(engine, control_map)
    with torch.no_grad():
        residuals = controlnet_residuals(guidance, sample, timestep, text, None)
    return [*residuals["down_block_additional_residuals"], residuals["mid_block_additional_residual"]]


def _diffusers(engine: Engine, control_map: Image.Image, halves: slice) -> list[torch.Tensor]:
    """diffusers' ControlNet at ``SCALE`` without guess mode, on the batch rows ``halves``."""
    sample, timestep, text, pixels = _inputs(engine, control_map)
    count = sample[halves].shape[0]
    with torch.no_grad():
        down, mid = engine.controlnet("canny")(
            sample[halves], timestep, encoder_hidden_states=text[halves], controlnet_cond=pixels.repeat(count, 1, 1, 1),
            conditioning_scale=SCALE, return_dict=False,
        )  # fmt: skip
    return [*down, mid]


def test_my_prompt_is_more_important_scales_each_block(engine: Engine, control_map) -> None:
    balanced = _ours(engine, control_map, ControlNetSettings("canny", SCALE), guess_mode=False)
    soft = _ours(engine, control_map, ControlNetSettings("canny", SCALE, soft=True), guess_mode=False)
    theirs = _diffusers(engine, control_map, slice(None))
    assert len(soft) == 13
    for ours_balanced, ours_soft, plain, factor in zip(balanced, soft, theirs, soft_factors(13), strict=True):
        assert torch.allclose(ours_balanced, plain, atol=1e-5)
        assert torch.allclose(ours_soft, plain * factor, atol=1e-5)  # both halves of CFG
        assert plain.abs().max() > 1e-3  # the ControlNet gives something to scale


def test_controlnet_is_more_important_is_soft_on_the_prompts_half_only(engine: Engine, control_map) -> None:
    residuals = _ours(engine, control_map, ControlNetSettings("canny", SCALE, soft=True), guess_mode=True)
    theirs = _diffusers(engine, control_map, slice(2, None))  # the conditional half, without diffusers' factors
    for ours, plain, factor in zip(residuals, theirs, soft_factors(13), strict=True):
        assert torch.equal(ours[:2], torch.zeros_like(ours[:2]))
        assert torch.allclose(ours[2:], plain * factor, atol=1e-5)


def test_soft_injection_changes_the_image(engine: Engine, control_map) -> None:
    balanced = structured(controlnet=ControlNetSettings("canny", SCALE))
    first = engine.generate(balanced, control_image=control_map).pixels
    soft = engine.generate(replace(balanced, controlnet=ControlNetSettings("canny", SCALE, soft=True)),
                           control_image=control_map).pixels  # fmt: skip
    assert np.abs(first - soft).max() > 0.01


def test_a_soft_t2i_adapter_scales_its_levels_by_the_extensions_factors(engine: Engine, control_map) -> None:
    layout = BatchLayout(num_images=2, guided=True, device=torch.device("cpu"))
    adapter = engine.t2i_adapter("depth")
    plain = T2IGuidance.prepare(adapter, control_map, T2IAdapterSettings("depth", SCALE), layout).features
    soft = T2IGuidance.prepare(adapter, control_map, T2IAdapterSettings("depth", SCALE, soft=True), layout).features
    pixels = torch.from_numpy(np.asarray(control_map, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        theirs = adapter(pixels)  # diffusers' T2IAdapter, scaled here by hand
    assert len(soft) == len(theirs) == 4
    for ours, unscaled, raw, factor in zip(soft, plain, theirs, (0.25, 0.62, 0.825, 1.0), strict=True):
        assert raw.abs().max() > 1e-3
        assert torch.allclose(ours, (raw * SCALE * factor).repeat(4, 1, 1, 1), atol=1e-6)  # both CFG halves
        assert torch.allclose(unscaled, (raw * SCALE).repeat(4, 1, 1, 1), atol=1e-6)
