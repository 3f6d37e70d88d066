"""ControlNet + IP-Adapter and T2I-Adapter + IP-Adapter on SDXL, from the app's pieces (``structure/``'s
map preparation, SDXL's residual call, the IP processors), equal diffusers' SDXL pipelines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import (
    ControlNetModel,
    StableDiffusionXLAdapterPipeline,
    StableDiffusionXLControlNetPipeline,
    T2IAdapter,
)
from PIL import Image, ImageDraw
from transformers import CLIPVisionModelWithProjection

from ipa_demo.architecture import describe_unet
from ipa_demo.ip_adapter.image_encoder import ImageEncoder
from ipa_demo.ip_adapter.weights import load_ip_adapter
from ipa_demo.models.catalog_sdxl import (
    SDXL_BASE,
    SDXL_CONTROLNETS,
    SDXL_IP_ADAPTERS,
    SDXL_IP_ENCODERS,
    SDXL_T2I_ADAPTERS,
)
from ipa_demo.models.sources import ModelSources
from ipa_demo.sdxl.structure import controlnet_residuals, controlnet_step, t2i_step
from ipa_demo.sdxl.generate import SDXLModels, generate, image_prompt
from ipa_demo.settings import ControlNetSettings, T2IAdapterSettings
from ipa_demo.structure.controlnet import ControlNetGuidance
from ipa_demo.structure.t2i_adapter import T2IGuidance

from ..helpers import noise_image
from .ip_pipelines import diffusers_with_ip_adapter

PROMPT = "a house by a lake"
STEPS = 3
GUIDANCE = 6.0
SEEDS = (11,)
IP_SCALE = 0.6


def edges() -> Image.Image:
    drawing = Image.new("RGB", (64, 64))
    pen = ImageDraw.Draw(drawing)
    pen.rectangle((12, 12, 50, 44), outline=(255, 255, 255), width=2)
    pen.line((0, 60, 63, 20), fill=(255, 255, 255), width=2)
    return drawing


@pytest.fixture(scope="module")
def sources(tiny_models_dir: Path) -> ModelSources:
    return ModelSources(tiny_models_dir)


@pytest.fixture(scope="module")
def models(sources: ModelSources) -> SDXLModels:
    return SDXLModels.from_folder(sources.local_path(SDXL_BASE))


@pytest.fixture(scope="module")
def reference() -> Image.Image:
    return noise_image(96, 72, seed=6)


def _ours(sources, models, reference, structure) -> np.ndarray:
    weights = load_ip_adapter(sources.local_path(SDXL_IP_ADAPTERS["base"]), models.unet)
    encoder = CLIPVisionModelWithProjection.from_pretrained(sources.local_path(SDXL_IP_ENCODERS["base"])).eval()
    encoding = ImageEncoder(encoder, torch.device("cpu")).encode([reference], "crop", weights.uses_hidden_states)
    scales = (IP_SCALE,) * len(describe_unet(models.unet.config).modules)
    unit = image_prompt(weights, encoding, scales, num_images=len(SEEDS), guided=True)
    return generate(models, PROMPT, steps=STEPS, guidance=GUIDANCE, seeds=SEEDS, ip=[unit], structure=[structure])


def _theirs(pipe, reference, control: Image.Image, **options) -> np.ndarray:
    pipe.set_ip_adapter_scale(IP_SCALE)
    return pipe(
        PROMPT,
        image=control,
        ip_adapter_image=reference,
        num_inference_steps=STEPS,
        guidance_scale=GUIDANCE,
        height=64,
        width=64,
        generator=[torch.Generator().manual_seed(seed) for seed in SEEDS],
        output_type="np",
        **options,
    ).images


@pytest.mark.parametrize(("kind", "guess_mode", "scale"), [("canny", False, 1.0), ("depth", True, 0.8)])
def test_controlnet_with_ip_adapter_equals_diffusers(sources, models, reference, kind, guess_mode, scale) -> None:
    controlnet = ControlNetModel.from_pretrained(sources.local_path(SDXL_CONTROLNETS[kind])).eval()
    options = ControlNetSettings(kind=kind, scale=scale, guess_mode=guess_mode)
    guidance = ControlNetGuidance.prepare(
        controlnet, edges(), options, device=torch.device("cpu"), num_images=len(SEEDS), guided=True
    )
    ours = _ours(sources, models, reference, controlnet_step(guidance))
    base = diffusers_with_ip_adapter(sources, "base")
    pipe = StableDiffusionXLControlNetPipeline(**base.components, controlnet=controlnet)
    theirs = _theirs(pipe, reference, edges(), controlnet_conditioning_scale=scale, guess_mode=guess_mode)
    assert np.abs(ours - theirs).max() <= 1e-4


@pytest.mark.parametrize(("kind", "scale"), [("canny", 1.0), ("openpose", 0.7)])
def test_t2i_adapter_with_ip_adapter_equals_diffusers(sources, models, reference, kind, scale) -> None:
    adapter = T2IAdapter.from_pretrained(sources.local_path(SDXL_T2I_ADAPTERS[kind])).eval()
    options = T2IAdapterSettings(kind=kind, scale=scale)
    guidance = T2IGuidance.prepare(
        adapter, edges(), options, device=torch.device("cpu"), num_images=len(SEEDS), guided=True
    )
    assert len(guidance.features) == 4  # full_adapter_xl: three down blocks and the mid block
    ours = _ours(sources, models, reference, t2i_step(guidance.features))
    base = diffusers_with_ip_adapter(sources, "base")
    pipe = StableDiffusionXLAdapterPipeline(**base.components, adapter=adapter)
    control = edges().convert("L") if adapter.config.in_channels == 1 else edges()
    theirs = _theirs(pipe, reference, control, adapter_conditioning_scale=scale)
    assert np.abs(ours - theirs).max() <= 1e-4


@pytest.mark.parametrize("guess_mode", [False, True])
def test_without_added_conditioning_it_is_the_sd15_join(tiny_models_dir: Path, guess_mode: bool) -> None:
    """One function for both families: with ``added=None`` it gives what ``ControlNetGuidance.join`` gives."""
    from ipa_demo.conditioner import Step
    from ipa_demo.models.catalog import CONTROLNETS
    from ipa_demo.unet_call import UNetCall

    sd15 = ControlNetModel.from_pretrained(ModelSources(tiny_models_dir).local_path(CONTROLNETS["canny"])).eval()
    options = ControlNetSettings(kind="canny", scale=0.9, guess_mode=guess_mode)
    guidance = ControlNetGuidance.prepare(sd15, edges(), options, device=torch.device("cpu"), num_images=1, guided=True)
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(2, 4, 8, 8, generator=generator)
    text = torch.randn(2, 77, sd15.config.cross_attention_dim, generator=generator)
    timestep = torch.tensor(500)
    with torch.no_grad():
        joined = guidance.join(UNetCall(sample, text), Step(0, 1, timestep, None, None, True)).residuals
        ours = controlnet_residuals(guidance, sample, timestep, text, None)
    assert torch.equal(ours["mid_block_additional_residual"], joined["mid_block_additional_residual"])
    for mine, theirs in zip(ours["down_block_additional_residuals"], joined["down_block_additional_residuals"]):
        assert torch.equal(mine, theirs)
