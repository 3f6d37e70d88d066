"""Loading the SD1.5 components once, from a diffusers folder, onto one device and dtype."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.image_processor import VaeImageProcessor
from diffusers import PNDMScheduler
from transformers import CLIPTextModel, CLIPTokenizer


class ModelLoadError(RuntimeError):
    """A model folder exists but cannot be loaded; the message names it."""


@dataclass(frozen=True)
class StableDiffusionModels:
    unet: UNet2DConditionModel
    vae: AutoencoderKL
    text_encoder: CLIPTextModel
    tokenizer: CLIPTokenizer
    scheduler_config: Mapping[str, Any]
    image_processor: VaeImageProcessor
    device: torch.device  # kept here: asking a module walks all its parameters
    dtype: torch.dtype

    @property
    def vae_scale_factor(self) -> int:
        return vae_scale_factor(self.vae)


def vae_scale_factor(vae: AutoencoderKL) -> int:
    return 2 ** (len(vae.config.block_out_channels) - 1)


def weights_variant(folder: Path, weights_name: str) -> str | None:
    """Prefer full-precision weights; fall back to the fp16 files a lean download fetches."""
    stem, _, suffix = weights_name.rpartition(".")
    if (folder / weights_name).exists() or not (folder / f"{stem}.fp16.{suffix}").exists():
        return None
    return "fp16"


def load_stable_diffusion(path: Path, device: torch.device | str, dtype: torch.dtype) -> StableDiffusionModels:
    try:
        unet = UNet2DConditionModel.from_pretrained(
            path / "unet",
            variant=weights_variant(path / "unet", "diffusion_pytorch_model.safetensors"),
            torch_dtype=dtype,
            use_safetensors=True,
        )
        vae = AutoencoderKL.from_pretrained(
            path / "vae",
            variant=weights_variant(path / "vae", "diffusion_pytorch_model.safetensors"),
            torch_dtype=dtype,
            use_safetensors=True,
        )
        text_encoder = CLIPTextModel.from_pretrained(
            path / "text_encoder",
            variant=weights_variant(path / "text_encoder", "model.safetensors"),
            dtype=dtype,
            use_safetensors=True,
        )
        tokenizer = CLIPTokenizer.from_pretrained(path / "tokenizer")
        scheduler_config = PNDMScheduler.load_config(path / "scheduler")  # any scheduler class reads it
    except Exception as error:
        raise ModelLoadError(f"cannot load Stable Diffusion from {path}: {error}") from None
    for module in (unet, vae, text_encoder):
        module.to(device).eval().requires_grad_(False)
    return StableDiffusionModels(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler_config=scheduler_config,
        image_processor=VaeImageProcessor(vae_scale_factor=vae_scale_factor(vae)),
        device=torch.device(device),
        dtype=dtype,
    )
