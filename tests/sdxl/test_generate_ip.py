"""SDXL txt2img with an IP-Adapter, from the app's pieces (its processors on the 70 layers, λ per attention
module), equals ``StableDiffusionXLPipeline`` with ``load_ip_adapter`` and ``set_ip_adapter_scale``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import CLIPVisionModelWithProjection

from ipa_demo.architecture import describe_unet
from ipa_demo.ip_adapter.image_encoder import ImageEncoder
from ipa_demo.ip_adapter.weights import load_ip_adapter
from ipa_demo.models.catalog_sdxl import SDXL_BASE, SDXL_IP_ADAPTERS, SDXL_IP_ENCODERS
from ipa_demo.models.sources import ModelSources
from ipa_demo.sdxl.generate import SDXLModels, generate, image_prompt

from ..helpers import noise_image
from .ip_pipelines import diffusers_with_ip_adapter

PROMPT = "a photo of a cat"
STEPS = 3
GUIDANCE = 5.0
SEEDS = (7,)


@pytest.fixture(scope="module")
def sources(tiny_models_dir: Path) -> ModelSources:
    return ModelSources(tiny_models_dir)


@pytest.fixture(scope="module")
def models(sources: ModelSources) -> SDXLModels:
    return SDXLModels.from_folder(sources.local_path(SDXL_BASE))


def _ours(sources, models, variant: str, layer_scales: tuple[float, ...], reference) -> np.ndarray:
    weights = load_ip_adapter(sources.local_path(SDXL_IP_ADAPTERS[variant]), models.unet)
    encoder_model = CLIPVisionModelWithProjection.from_pretrained(sources.local_path(SDXL_IP_ENCODERS[variant]))
    encoding = ImageEncoder(encoder_model.eval(), torch.device("cpu")).encode(
        [reference], "crop", weights.uses_hidden_states
    )
    unit = image_prompt(weights, encoding, layer_scales, num_images=len(SEEDS), guided=True)
    return generate(models, PROMPT, steps=STEPS, guidance=GUIDANCE, seeds=SEEDS, ip=[unit])


def _theirs(sources, variant: str, scale: float | dict, reference) -> np.ndarray:
    pipe = diffusers_with_ip_adapter(sources, variant)
    pipe.set_ip_adapter_scale(scale)
    return pipe(
        PROMPT,
        ip_adapter_image=reference,
        num_inference_steps=STEPS,
        guidance_scale=GUIDANCE,
        height=64,
        width=64,
        generator=[torch.Generator().manual_seed(seed) for seed in SEEDS],
        output_type="np",
    ).images


@pytest.mark.parametrize("variant", list(SDXL_IP_ADAPTERS))
def test_each_variant_equals_diffusers(sources, models, variant: str) -> None:
    reference = noise_image(96, 72, seed=4)
    modules = len(describe_unet(models.unet.config).modules)
    ours = _ours(sources, models, variant, (0.7,) * modules, reference)
    assert np.abs(ours - _theirs(sources, variant, 0.7, reference)).max() <= 1e-4
    plain = generate(models, PROMPT, steps=STEPS, guidance=GUIDANCE, seeds=SEEDS)
    assert np.abs(ours - plain).max() * 255 >= 20  # the reference reaches the image (118-146 measured)


def test_the_style_preset_equals_instant_styles_scale_dict(sources, models) -> None:
    """InstantStyle's style block (up_blocks.0.attentions.1) as our per-module λ and as diffusers' dict."""
    architecture = describe_unet(models.unet.config)
    assert [architecture.module_names[index] for index in architecture.style] == ["up_blocks.0.attentions.1"]
    scales = tuple(1.0 if index in architecture.style else 0.0 for index in range(len(architecture.modules)))
    reference = noise_image(80, 80, seed=5)
    ours = _ours(sources, models, "base", scales, reference)
    theirs = _theirs(sources, "base", {"up": {"block_0": [0.0, 1.0, 0.0]}}, reference)
    assert np.abs(ours - theirs).max() <= 1e-4
    everywhere = _ours(sources, models, "base", (1.0,) * len(scales), reference)
    assert np.abs(ours - everywhere).max() * 255 >= 20  # the other ten modules were left out (134 measured)
