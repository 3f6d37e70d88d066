"""A tiny twin of SDXL base with its real topology, written beside the tiny set (``write_tiny_models``
calls this) where ``--base-model stabilityai/stable-diffusion-xl-base-1.0`` looks in a models folder.

Its UNet and VAE are the real model's configs (``architecture/sdxl/``, the files the architecture
description reads) with tiny widths: transformer layers per block 1, 2, 10, so 70 cross-attention
layers in 11 attention modules, at 64 px. Two text encoders as SDXL has (the second with a projection,
whose pooled output and the six size/crop time ids make ``added_cond_kwargs``); the tokenizer is the
tiny SD 1.5 one, twice. diffusers' ``StableDiffusionXLPipeline`` loads the folder as it is.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

from ..architecture import SDXL_CONFIG, read_config, unet_config
from .sources import ModelSources
from .tiny_sdxl_file import write_sdxl_single_file
from .tiny_response import denoising_skip, focused_self_attention, steady_deep_stacks
from .tiny_sdxl_ip import write_sdxl_ip_adapters
from .tiny_sdxl_structure import write_sdxl_structure

SDXL_BASE_REPO = "stabilityai/stable-diffusion-xl-base-1.0"
FOLDER = SDXL_BASE_REPO.split("/")[-1]  # a models folder holds each repo under its name (ModelSpec.repo_name)
UNET_CHANNELS = (8, 8, 8)
VAE_CHANNELS = (8, 8, 16, 16)  # four levels: the VAE shrinks by 8, as SDXL's does
TEXT_HIDDEN = 16  # the first encoder's width and the pooled projection's (768 and 1280 on SDXL)
# The second encoder is wider, as SDXL's (1280); the UNet reads both side by side (768 + 1280 = 2048).
# Widths that differ also let diffusers' single-file loader tell the two encoders apart, as it does SDXL's.
TEXT_HIDDEN_2 = 24
TIME_EMBED = 8  # per time id (256 on SDXL)
TIME_IDS = 6  # original size, crop top-left, target size
SAMPLE_SIZE = 8  # latents: 64 px


def write_sdxl_set(models_dir: Path, sd15: Path, seed: Callable[[str], None]) -> Path:
    """The SDXL family's twins (``write_tiny_models`` calls this): the base, what builds on its UNet, and
    the base as one single file."""
    folder = write_sdxl_base(models_dir, sd15, seed)
    unet = UNet2DConditionModel.from_pretrained(folder / "unet")
    sources = ModelSources(models_dir)
    write_sdxl_ip_adapters(sources, unet, seed)
    write_sdxl_structure(sources, folder, unet, seed)
    write_sdxl_single_file(models_dir, folder)
    return folder


def write_sdxl_base(models_dir: Path, sd15: Path, seed: Callable[[str], None]) -> Path:
    """The twin's folder; ``sd15`` is the tiny SD 1.5 folder (its tokenizer is shared)."""
    folder = models_dir / FOLDER
    for name in ("tokenizer", "tokenizer_2"):
        shutil.copytree(sd15 / "tokenizer", folder / name, dirs_exist_ok=True)
    vocab = json.loads((folder / "tokenizer" / "vocab.json").read_text(encoding="utf-8"))
    seed("text_encoder")
    CLIPTextModel(_text_config(vocab, projection=False)).save_pretrained(folder / "text_encoder")
    seed("text_encoder_2")
    CLIPTextModelWithProjection(_text_config(vocab, projection=True)).save_pretrained(folder / "text_encoder_2")
    seed("vae")
    vae = read_config(SDXL_CONFIG / "vae" / "config.json")
    tiny_vae = {"block_out_channels": VAE_CHANNELS, "layers_per_block": 1, "norm_num_groups": 8, "sample_size": 64}
    AutoencoderKL.from_config(vae | tiny_vae).save_pretrained(folder / "vae")
    seed("unet")
    tiny_unet = {
        "block_out_channels": UNET_CHANNELS,
        "norm_num_groups": 4,
        "attention_head_dim": 2,  # heads per block, as on SD 1.5's config (5, 10, 20 on SDXL's)
        "cross_attention_dim": TEXT_HIDDEN + TEXT_HIDDEN_2,
        "addition_time_embed_dim": TIME_EMBED,
        "projection_class_embeddings_input_dim": TEXT_HIDDEN + TIME_IDS * TIME_EMBED,
        "sample_size": SAMPLE_SIZE,
    }
    unet = UNet2DConditionModel.from_config(unet_config(SDXL_CONFIG) | tiny_unet)
    denoising_skip(unet)  # a UNet that denoises and a self-attention that tells tokens apart, so that
    focused_self_attention(unet)  # what a conditioner adds shows in the image (tiny_response)
    steady_deep_stacks(unet)
    unet.save_pretrained(folder / "unet")
    EulerDiscreteScheduler(  # SDXL base's scheduler_config.json
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1, timestep_spacing="leading"
    ).save_pretrained(folder / "scheduler")
    shutil.copyfile(SDXL_CONFIG / "model_index.json", folder / "model_index.json")
    return folder


def _text_config(vocab: dict[str, int], projection: bool) -> CLIPTextConfig:
    hidden = TEXT_HIDDEN_2 if projection else TEXT_HIDDEN
    return CLIPTextConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        projection_dim=TEXT_HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=77,
        hidden_act="gelu" if projection else "quick_gelu",  # OpenCLIP bigG, CLIP ViT-L
        bos_token_id=vocab["<|startoftext|>"],
        eos_token_id=vocab["<|endoftext|>"],
        pad_token_id=vocab["<|endoftext|>"],
    )
