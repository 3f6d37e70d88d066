"""Tiny twins of the models users bring: a single-file SD1.5 checkpoint, a VAE file, an inpainting
model and a LoRA, written beside the tiny catalog set (``write_tiny_models`` calls this).

Layout under the models folder:
- ``user-models/tiny-sd15.safetensors``: the tiny SD1.5 in the original LDM single-file layout;
- ``user-models/tiny-vae.safetensors``: another random VAE in the LDM layout without prefix (as the
  ft-MSE VAE file is published);
- ``stable-diffusion-inpainting/``: a diffusers folder, as the Hub repo of that name, whose UNet
  takes 9 input channels (latents, mask, masked-image latents);
- ``user-models/tiny-lora.safetensors``: a kohya-style LoRA for the tiny UNet and text encoder.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextModel

from .ldm_layout import ldm_checkpoint, vae_state

USER_MODELS = "user-models"
SINGLE_FILE = f"{USER_MODELS}/tiny-sd15.safetensors"
VAE_FILE = f"{USER_MODELS}/tiny-vae.safetensors"
INPAINTING_FOLDER = "stable-diffusion-inpainting"
INPAINTING_REPO = "stable-diffusion-v1-5/stable-diffusion-inpainting"
LORA_FILE = f"{USER_MODELS}/tiny-lora.safetensors"

__all__ = ["INPAINTING_FOLDER", "INPAINTING_REPO", "LORA_FILE", "SINGLE_FILE", "VAE_FILE", "write_user_models"]


def write_user_models(models_dir: Path, sd15: Path, seed_for: Callable[[str], None]) -> None:
    """``sd15``: the tiny SD1.5 folder already written; ``seed_for(name)`` seeds torch for one component."""
    unet = UNet2DConditionModel.from_pretrained(sd15 / "unet")
    vae = AutoencoderKL.from_pretrained(sd15 / "vae")
    text_encoder = CLIPTextModel.from_pretrained(sd15 / "text_encoder")
    _save(ldm_checkpoint(unet, vae, text_encoder), models_dir / SINGLE_FILE)
    seed_for("user-vae")
    other_vae = AutoencoderKL.from_config(vae.config)
    _save(vae_state(other_vae), models_dir / VAE_FILE)
    seed_for("inpainting-unet")
    _write_inpainting_model(sd15, models_dir / INPAINTING_FOLDER, unet)
    seed_for("lora")
    _save(_kohya_lora(unet, text_encoder), models_dir / LORA_FILE)


LORA_RANK = 4
_UNET_TARGETS = tuple(f"{attn}.{proj}" for attn in ("attn1", "attn2") for proj in ("to_q", "to_k", "to_v", "to_out.0"))
_TEXT_TARGETS = tuple(f"self_attn.{proj}" for proj in ("q_proj", "k_proj", "v_proj", "out_proj"))


def _kohya_lora(unet: UNet2DConditionModel, text_encoder: CLIPTextModel) -> dict[str, torch.Tensor]:
    """A LoRA as kohya's sd-scripts save them (what model sites carry): ``lora_unet_<module with _>``
    and ``lora_te_text_model_<...>`` keys with lora_down / lora_up / alpha. Unlike a freshly
    initialised LoRA (up = 0), every weight is random, so that it visibly changes the image."""
    state: dict[str, torch.Tensor] = {}
    layers = [("lora_unet_" + name, module) for name, module in unet.named_modules() if name.endswith(_UNET_TARGETS)]
    for name, module in text_encoder.named_modules():
        if name.endswith(_TEXT_TARGETS):
            original = name if name.startswith("text_model.") else f"text_model.{name}"  # transformers 4 naming
            layers.append(("lora_te_" + original, module))
    for name, module in layers:
        key = name.replace(".", "_")
        state[f"{key}.lora_down.weight"] = torch.randn(LORA_RANK, module.in_features) / module.in_features**0.5
        state[f"{key}.lora_up.weight"] = torch.randn(module.out_features, LORA_RANK) / LORA_RANK**0.5
        state[f"{key}.alpha"] = torch.tensor(float(LORA_RANK) / 2)  # scale alpha / rank = 0.5, as often trained
    return state


def _write_inpainting_model(sd15: Path, folder: Path, unet: UNet2DConditionModel) -> None:
    """The SD1.5 folder with a 9-channel UNet of its own; the other parts are the same files (linked)."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(sd15, folder, copy_function=_link_or_copy, ignore=shutil.ignore_patterns("unet"))
    UNet2DConditionModel.from_config({**unet.config, "in_channels": 9}).save_pretrained(folder / "unet")
    index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    (folder / "model_index.json").unlink()  # a link to SD1.5's own file, which must stay as it is
    _write_json(folder / "model_index.json", {**index, "_class_name": "StableDiffusionInpaintPipeline"})


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # a filesystem without hard links
        shutil.copyfile(source, target)


def _save(state: dict[str, torch.Tensor], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({key: value.contiguous() for key, value in state.items()}, str(path), metadata={"format": "pt"})


def _write_json(path: Path, content: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
