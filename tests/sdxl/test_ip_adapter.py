"""The four SDXL IP-Adapters on the tiny SDXL twin: the K'/V' we place on its 70 layers and the image
tokens we make equal diffusers' ``load_ip_adapter(..., subfolder="sdxl_models", image_encoder_folder=...)``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel
from PIL import Image
from transformers import CLIPVisionModelWithProjection

from ipa_demo.architecture import describe_unet
from ipa_demo.errors import CheckpointError
from ipa_demo.ip_adapter.checkpoint_kind import EncoderOutput, check_image_encoder, encoder_need
from ipa_demo.ip_adapter.image_encoder import ImageEncoder
from ipa_demo.ip_adapter.weights import load_ip_adapter, read_checkpoint
from ipa_demo.models.catalog_sdxl import SDXL_BASE, SDXL_IP_ADAPTERS, SDXL_IP_ENCODERS
from ipa_demo.models.sources import ModelSources

from ..helpers import noise_image
from .ip_pipelines import diffusers_with_ip_adapter

VARIANTS = tuple(SDXL_IP_ADAPTERS)


@pytest.fixture(scope="module")
def sources(tiny_models_dir: Path) -> ModelSources:
    return ModelSources(tiny_models_dir)


@pytest.fixture(scope="module")
def unet(sources: ModelSources) -> UNet2DConditionModel:
    return UNet2DConditionModel.from_pretrained(sources.local_path(SDXL_BASE) / "unet").eval()


@pytest.mark.parametrize("variant", VARIANTS)
def test_weights_and_image_tokens_equal_diffusers(sources, unet, variant: str) -> None:
    pipe = diffusers_with_ip_adapter(sources, variant)
    ours = load_ip_adapter(sources.local_path(SDXL_IP_ADAPTERS[variant]), unet)
    blocks = describe_unet(unet.config).blocks
    assert len(blocks) == len(ours.to_k_ip) == 70
    processors = pipe.unet.attn_processors
    for index, block in enumerate(blocks):
        theirs = processors[block.processor_name]
        assert torch.equal(ours.to_k_ip[index].weight, theirs.to_k_ip[0].weight), block.name
        assert torch.equal(ours.to_v_ip[index].weight, theirs.to_v_ip[0].weight), block.name

    encoder_path = sources.local_path(SDXL_IP_ENCODERS[variant])
    encoder = ImageEncoder(CLIPVisionModelWithProjection.from_pretrained(encoder_path).eval(), torch.device("cpu"))
    assert encoder.encoder.config.hidden_size == pipe.image_encoder.config.hidden_size  # the same encoder folder
    reference = noise_image(96, 72, seed=3)
    encoding = encoder.encode([reference], "crop", ours.uses_hidden_states)
    with torch.no_grad():
        embeds = pipe.prepare_ip_adapter_image_embeds([reference], None, "cpu", 1, True)
        negative, positive = pipe.unet.encoder_hid_proj(embeds)[0].chunk(2)
        tokens = ours.image_tokens(torch.cat([encoding.negative, encoding.positive]))
    assert tokens.shape[1] == (16 if variant.startswith("plus") else 4)
    torch.testing.assert_close(tokens, torch.cat([negative, positive]).flatten(0, 1), rtol=0, atol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_other_encoder_is_refused_in_words(sources, variant: str) -> None:
    spec = SDXL_IP_ADAPTERS[variant]
    path = sources.local_path(spec)
    need = encoder_need(read_checkpoint(path)["image_proj"], path)
    own = SDXL_IP_ENCODERS[variant]
    other = next(encoder for encoder in SDXL_IP_ENCODERS.values() if encoder != own)
    check_image_encoder(need, _output(sources, own), spec.key, own.path_in_repo)
    with pytest.raises(CheckpointError, match=f"{spec.key} reads .* but the image encoder {other.path_in_repo}"):
        check_image_encoder(need, _output(sources, other), spec.key, other.path_in_repo)


def test_diffusers_fails_on_the_same_mismatch(sources) -> None:
    """The refusal is about a real failure: diffusers given the ViT-H encoder for ip-adapter_sdxl breaks."""
    pipe = StableDiffusionXLPipeline.from_pretrained(sources.local_path(SDXL_BASE))
    pipe.load_ip_adapter(
        str(sources.models_dir / "IP-Adapter"),
        subfolder="sdxl_models",
        weight_name="ip-adapter_sdxl.safetensors",
        image_encoder_folder="models/image_encoder",
    )
    with pytest.raises(RuntimeError):
        pipe("a cat", ip_adapter_image=Image.new("RGB", (64, 64)), num_inference_steps=1, output_type="latent")


def _output(sources: ModelSources, encoder) -> EncoderOutput:
    return EncoderOutput.of(CLIPVisionModelWithProjection.config_class.from_pretrained(sources.local_path(encoder)))
