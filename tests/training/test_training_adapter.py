"""The trainable adapter: built from the UNet, written in the official layout, read back by everyone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from diffusers import UNet2DConditionModel
from safetensors.torch import load_file
from transformers import CLIPVisionConfig

from ipa_demo.architecture import SDXL_CONFIG, describe_unet, unet_config
from ipa_demo.architecture.layers import CROSS_ATTENTION_LAYERS
from ipa_demo.engine import Engine
from ipa_demo.ip_adapter.weights import load_ip_adapter
from ipa_demo.models.catalog_sdxl import SDXL_BASE, SDXL_IP_ADAPTERS, SDXL_IP_ENCODERS
from ipa_demo.models.sources import ModelSources
from ipa_demo.training.adapter import (
    new_adapter,
    official_state_dict,
    parameter_count,
    save_adapter,
    trainable_parameters,
    variant_of,
)

OFFICIAL_FILES = {"base": "ip-adapter_sd15.safetensors", "plus": "ip-adapter-plus_sd15.safetensors"}
# SD1.5's UNet as its config.json gives it (what differs from diffusers' defaults), and ViT-H/14's sizes.
SD15_UNET = {"sample_size": 64, "cross_attention_dim": 768, "block_out_channels": (320, 640, 1280, 1280),
             "attention_head_dim": 8, "layers_per_block": 2}  # fmt: skip
VIT_H_PROJECTION, VIT_H_HIDDEN = 1024, 1280


def official(models_dir: Path, variant: str) -> dict[str, torch.Tensor]:
    return load_file(models_dir / "IP-Adapter" / "models" / OFFICIAL_FILES[variant])


def fresh(engine: Engine, variant: str):
    config = engine.image_encoder.encoder.config
    return new_adapter(engine.models.unet, variant, config.projection_dim, config.hidden_size)


@pytest.mark.parametrize("variant", ["base", "plus"])
def test_a_new_adapter_has_the_official_keys_and_shapes(engine: Engine, tiny_models_dir: Path, variant: str) -> None:
    ours = official_state_dict(fresh(engine, variant), engine.models.unet)
    theirs = official(tiny_models_dir, variant)
    assert {key: tuple(value.shape) for key, value in ours.items()} == {
        key: tuple(value.shape) for key, value in theirs.items()
    }
    layers = sorted({int(key.split(".")[1]) for key in ours if key.startswith("ip_adapter.")})
    assert layers == list(range(1, 32, 2))


@pytest.mark.parametrize("variant", ["base", "plus"])
def test_official_checkpoints_round_trip_exactly(engine: Engine, tiny_models_dir: Path, variant: str) -> None:
    """Read with diffusers' converter (what the app does), written back by ours: the same tensors."""
    path = tiny_models_dir / "IP-Adapter" / "models" / OFFICIAL_FILES[variant]
    adapter = load_ip_adapter(path, engine.models.unet)
    assert variant_of(adapter) == variant
    written = official_state_dict(adapter, engine.models.unet)
    original = official(tiny_models_dir, variant)
    assert written.keys() == original.keys()
    for key, tensor in original.items():
        assert torch.equal(written[key], tensor), key


def test_new_adapter_copies_text_keys_and_values(engine: Engine) -> None:
    adapter = fresh(engine, "base")
    for index, layer in enumerate(CROSS_ATTENTION_LAYERS):
        attn = engine.models.unet.get_submodule(f"{layer}.transformer_blocks.0.attn2")
        assert torch.equal(adapter.to_k_ip[index].weight, attn.to_k.weight)
        assert torch.equal(adapter.to_v_ip[index].weight, attn.to_v.weight)
        assert adapter.to_k_ip[index].weight.data_ptr() != attn.to_k.weight.data_ptr()


@pytest.mark.parametrize("variant", ["base", "plus"])
def test_saved_adapter_loads_in_the_app(engine: Engine, tmp_path: Path, variant: str) -> None:
    adapter = fresh(engine, variant)
    path = save_adapter(adapter, engine.models.unet, tmp_path / "trained.safetensors")
    loaded = load_ip_adapter(path, engine.models.unet)
    for (name, ours), (_, theirs) in zip(adapter.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(ours, theirs), name
    assert not list(tmp_path.glob("*.partial"))


def test_sd15_adapter_size_from_the_configs_alone() -> None:
    """22.3M parameters: the size of h94's ip-adapter_sd15 (44.6 MB in fp16), counted on the meta device."""
    assert parameter_count(SD15_UNET, "base", VIT_H_PROJECTION, VIT_H_HIDDEN) == 22_319_616


def test_every_adapter_parameter_trains(engine: Engine) -> None:
    adapter = fresh(engine, "plus")
    assert trainable_parameters(adapter) == sum(parameter.numel() for parameter in adapter.parameters())


# --- SDXL ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sdxl_unet(tiny_models_dir: Path) -> UNet2DConditionModel:
    return UNet2DConditionModel.from_pretrained(ModelSources(tiny_models_dir).local_path(SDXL_BASE) / "unet")


def sdxl_fresh(unet: UNet2DConditionModel, tiny_models_dir: Path, variant: str):
    encoder = CLIPVisionConfig.from_pretrained(ModelSources(tiny_models_dir).local_path(SDXL_IP_ENCODERS[variant]))
    return new_adapter(unet, variant, encoder.projection_dim, encoder.hidden_size)


@pytest.mark.parametrize("variant", ["base", "vit-h"])
def test_a_new_sdxl_adapter_has_the_keys_and_shapes_of_h94s_file(sdxl_unet, tiny_models_dir: Path, variant) -> None:
    """base projects the ViT-bigG encoder's embeds, vit-h the ViT-H one's, as the twins of h94's files do."""
    ours = official_state_dict(sdxl_fresh(sdxl_unet, tiny_models_dir, variant), sdxl_unet)
    theirs = load_file(ModelSources(tiny_models_dir).local_path(SDXL_IP_ADAPTERS[variant]))
    assert {key: tuple(value.shape) for key, value in ours.items()} == {
        key: tuple(value.shape) for key, value in theirs.items()
    }
    assert len([key for key in ours if key.endswith("to_k_ip.weight")]) == 70


def test_a_new_sdxl_adapter_copies_the_text_keys_and_values_of_all_70_layers(sdxl_unet, tiny_models_dir) -> None:
    adapter = sdxl_fresh(sdxl_unet, tiny_models_dir, "plus")
    blocks = describe_unet(sdxl_unet.config).blocks
    assert len(blocks) == len(adapter.to_k_ip) == 70
    for index, block in enumerate(blocks):
        attn = sdxl_unet.get_submodule(block.cross_attention)
        assert torch.equal(adapter.to_k_ip[index].weight, attn.to_k.weight)
        assert torch.equal(adapter.to_v_ip[index].weight, attn.to_v.weight)


# SDXL's 70 K'/V' pairs read 2048-wide text: 10 blocks of 640 channels (down 1, up 1), 60 of 1280.
SDXL_KV = 2 * 2048 * (10 * 640 + 60 * 1280)
BIGG_PROJECTION = 1280


def test_sdxl_adapter_sizes_from_the_configs_alone() -> None:
    """ip-adapter_sdxl (702.6 MB in fp16) and ip-adapter-plus_sdxl_vit-h (847.5 MB): counted on the meta device."""
    sdxl = unet_config(SDXL_CONFIG)
    linear = BIGG_PROJECTION * 4 * 2048 + 4 * 2048 + 2 * 2048  # proj (4 tokens, with bias) and its LayerNorm
    assert parameter_count(sdxl, "base", BIGG_PROJECTION, 1664) == SDXL_KV + linear
    width = VIT_H_HIDDEN  # the Resampler is as wide as ViT-H's hidden states: 20 heads of 64
    block = 2 * 2 * width + 4 * width * width + 2 * width + 2 * 4 * width * width  # norms, q/kv/out, feed-forward
    resampler = 16 * width + (width * width + width) + (width * 2048 + 2048) + 2 * 2048 + 4 * block
    assert parameter_count(sdxl, "plus", VIT_H_PROJECTION, VIT_H_HIDDEN) == SDXL_KV + resampler
