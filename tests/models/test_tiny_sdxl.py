"""The tiny SDXL base twin: SDXL's real topology, loadable by diffusers, described like the real model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel

from ipa_demo.architecture import SDXL_CONFIG, describe_folder, describe_unet
from ipa_demo.models.tiny_sdxl import FOLDER
from ipa_demo.unet_setup import check_layout


@pytest.fixture(scope="module")
def twin(tiny_models_dir: Path) -> Path:
    return tiny_models_dir / FOLDER


def test_its_unet_has_sdxls_70_cross_attention_layers_as_described(twin: Path) -> None:
    unet = UNet2DConditionModel.from_pretrained(twin / "unet")
    described = describe_unet(unet.config)
    cross = [name for name in unet.attn_processors if name.endswith("attn2.processor")]
    assert len(cross) == len(described.blocks) == 70 and len(described.modules) == 11
    assert [block.processor_name for block in described.blocks_in_checkpoint_order()] == cross
    check_layout(described, list(unet.attn_processors))
    real = describe_folder(SDXL_CONFIG)
    assert described.modules == real.modules and described.blocks == real.blocks and described.family == "sdxl"


def test_the_folder_is_described_like_the_real_model(twin: Path) -> None:
    ours, real = describe_folder(twin), describe_folder(SDXL_CONFIG)
    assert ours.text_encoders == real.text_encoders == ("text_encoder", "text_encoder_2")
    assert (ours.style, ours.composition) == (real.style, real.composition)
    assert ours.default_size == 64 and real.default_size == 1024  # tiny latents, the same VAE factor


def test_diffusers_runs_it_with_both_text_encoders(twin: Path) -> None:
    pipe = StableDiffusionXLPipeline.from_pretrained(twin)
    assert pipe.text_encoder_2.config.projection_dim == pipe.text_encoder.config.hidden_size
    image = pipe("a cat", num_inference_steps=2, generator=torch.Generator().manual_seed(0), output_type="np").images
    assert image.shape == (1, 64, 64, 3) and np.isfinite(image).all()
