"""Soft injection on SDXL (the A1111 extension's control modes 1 and 2) against diffusers' SDXL ControlNetModel
and T2IAdapter, their outputs scaled by hand as the extension scales them.

The extension makes 13 factors 0.825^(12 - i) and, for an SDXL ControlNet, keeps the first 10
(``control_scales[:10]`` in its hook): SDXL's ControlNet gives 9 down residuals and the mid block's, so the
mid block gets 0.825^3, not 1 as on SD 1.5. T2I-Adapters keep their four factors: SDXL's
``full_adapter_xl`` returns four features as SD 1.5's adapters do."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ipa_demo.conditioner import BatchLayout
from ipa_demo.engine import Engine
from ipa_demo.models.catalog_sdxl import SDXL_BASE
from ipa_demo.models.sources import ModelSources
from ipa_demo.settings import ControlNetSettings, GenerationSettings, IPAdapterSettings, T2IAdapterSettings
from ipa_demo.structure.controlnet import ControlNetGuidance, controlnet_residuals
from ipa_demo.structure.t2i_adapter import T2IGuidance

SCALE = 0.8
SIZE = 64
EXTENSION_SDXL_FACTORS = [0.825 ** float(12 - index) for index in range(13)][:10]  # its hook's rule, written out
T2I_FACTORS = (0.25, 0.62, 0.825, 1.0)
BASE = GenerationSettings(prompt="a house", seed=3, width=SIZE, height=SIZE, steps=2, scheduler="Euler",
                          ip=IPAdapterSettings(scale=0.0))  # fmt: skip


@pytest.fixture(scope="module")
def engine(tiny_models_dir: Path) -> Engine:
    return Engine(ModelSources(tiny_models_dir), base_model=SDXL_BASE.repo_id)


@pytest.fixture(scope="module")
def control_map() -> Image.Image:
    pixels = np.zeros((SIZE, SIZE, 3), dtype=np.uint8)
    pixels[20:24, :, :] = 255
    pixels[:, 40:43, :] = 255
    return Image.fromarray(pixels)


def _inputs(engine: Engine, control_map: Image.Image) -> tuple[torch.Tensor, ...]:
    """CFG over two images (4 rows): latents, text, SDXL's pooled text and time ids, and the map."""
    config = engine.models.unet.config
    generator = torch.Generator().manual_seed(3)
    sample = torch.randn((4, 4, SIZE // 8, SIZE // 8), generator=generator)
    text = torch.randn((4, 77, config.cross_attention_dim), generator=generator)
    pooled_width = config.projection_class_embeddings_input_dim - 6 * config.addition_time_embed_dim
    pooled = torch.randn((4, pooled_width), generator=generator)
    time_ids = torch.tensor([[SIZE, SIZE, 0, 0, SIZE, SIZE]] * 4, dtype=torch.float32)
    pixels = torch.from_numpy(np.asarray(control_map, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    return sample, text, pooled, time_ids, pixels


def _ours(engine: Engine, control_map: Image.Image, options: ControlNetSettings, guess: bool) -> list[torch.Tensor]:
    layout = BatchLayout(num_images=2, guided=True, device=torch.device("cpu"))
    guidance = ControlNetGuidance.prepare(engine.controlnet("canny"), control_map, options, layout, guess_mode=guess)
    sample, text, pooled, time_ids, _ = _inputs(engine, control_map)
    added = {"text_embeds": pooled, "time_ids": time_ids}
    with torch.no_grad():
        residuals = controlnet_residuals(guidance, sample, torch.tensor(500), text, added)
    return [*residuals["down_block_additional_residuals"], residuals["mid_block_additional_residual"]]


def _diffusers(engine: Engine, control_map: Image.Image, rows: slice) -> list[torch.Tensor]:
    """diffusers' SDXL ControlNet at ``SCALE`` without guess mode, on the batch rows ``rows``."""
    sample, text, pooled, time_ids, pixels = _inputs(engine, control_map)
    count = sample[rows].shape[0]
    with torch.no_grad():
        down, mid = engine.controlnet("canny")(
            sample[rows], torch.tensor(500), encoder_hidden_states=text[rows],
            controlnet_cond=pixels.repeat(count, 1, 1, 1), conditioning_scale=SCALE,
            added_cond_kwargs={"text_embeds": pooled[rows], "time_ids": time_ids[rows]}, return_dict=False,
        )  # fmt: skip
    return [*down, mid]


def test_sdxls_controlnet_has_ten_residuals(engine: Engine, control_map) -> None:
    assert len(_diffusers(engine, control_map, slice(None))) == len(EXTENSION_SDXL_FACTORS) == 10


def test_my_prompt_is_more_important_scales_sdxls_ten_residuals_as_the_extension(engine: Engine, control_map) -> None:
    soft = _ours(engine, control_map, ControlNetSettings("canny", SCALE, soft=True), guess=False)
    theirs = _diffusers(engine, control_map, slice(None))
    assert len(soft) == len(theirs)
    for ours, plain, factor in zip(soft, theirs, EXTENSION_SDXL_FACTORS, strict=True):
        assert plain.abs().max() > 1e-3  # the ControlNet gives something to scale
        assert torch.allclose(ours, plain * factor, atol=1e-5)  # both halves of CFG
    assert soft[-1].abs().max() < 0.6 * theirs[-1].abs().max()  # the mid block is softened too (0.825^3)


def test_controlnet_is_more_important_on_sdxl_is_soft_on_the_prompts_half_only(engine: Engine, control_map) -> None:
    residuals = _ours(engine, control_map, ControlNetSettings("canny", SCALE, soft=True), guess=True)
    theirs = _diffusers(engine, control_map, slice(2, None))  # the conditional half and its added conditioning
    assert len(residuals) == len(theirs)
    for ours, plain, factor in zip(residuals, theirs, EXTENSION_SDXL_FACTORS, strict=True):
        assert torch.equal(ours[:2], torch.zeros_like(ours[:2]))
        assert torch.allclose(ours[2:], plain * factor, atol=1e-5)


def test_a_soft_sdxl_t2i_adapter_scales_its_four_levels_by_the_extensions_factors(engine: Engine, control_map) -> None:
    layout = BatchLayout(num_images=2, guided=True, device=torch.device("cpu"))
    adapter = engine.t2i_adapter("depth")
    soft = T2IGuidance.prepare(adapter, control_map, T2IAdapterSettings("depth", SCALE, soft=True), layout).features
    *_, pixels = _inputs(engine, control_map)
    with torch.no_grad():
        theirs = adapter(pixels)  # diffusers' full_adapter_xl
    assert adapter.config.adapter_type == "full_adapter_xl" and len(soft) == len(theirs) == 4
    for ours, raw, factor in zip(soft, theirs, T2I_FACTORS, strict=True):
        assert raw.abs().max() > 1e-3
        assert torch.allclose(ours, (raw * SCALE * factor).repeat(4, 1, 1, 1), atol=1e-6)  # both CFG halves


@pytest.mark.parametrize("unit", ["controlnet", "t2i"])
def test_soft_injection_changes_the_sdxl_image(engine: Engine, control_map, unit: str) -> None:
    def settings(soft: bool) -> GenerationSettings:
        if unit == "controlnet":
            return replace(BASE, controlnet=ControlNetSettings("canny", SCALE, soft=soft))
        return replace(BASE, t2i=T2IAdapterSettings("depth", SCALE, soft=soft))

    balanced = engine.generate(settings(False), control_image=control_map).pixels
    soft = engine.generate(settings(True), control_image=control_map).pixels
    assert np.abs(balanced - soft).max() > 0.01
