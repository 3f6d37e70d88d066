"""Tiny twins of the SDXL models that build on its UNet: the three ControlNets and three T2I-Adapters of
the catalog, the 9-channel inpainting model and the fp16-fix VAE, each under its Hub repo's name.

The ControlNets and T2I-Adapters get ``tiny_response``'s weights, as SD 1.5's do, so that a map
reaches the image; the inpainting UNet starts from the base's (as the real one was finetuned from it). SDXL's T2I-Adapters are ``full_adapter_xl``: they shrink the map by 16 and return
four features for SDXL's three down blocks and its mid block (one down block has no attention).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel

from .catalog_sdxl import SDXL_CONTROLNETS, SDXL_INPAINTING_UNET, SDXL_T2I_ADAPTERS, SDXL_VAE_FP16_FIX
from .sources import ModelSources
from .tiny_response import T2I_IN_CHANNELS, write_controlnet, write_t2i_adapter

INPAINTING_CHANNELS = 9  # latents, mask, masked-image latents
T2I_XL = {"adapter_type": "full_adapter_xl", "downscale_factor": 16}
T2I_XL_BLOCKS = 4  # features for down_blocks 0, 1, 2 and the mid block


def write_sdxl_structure(
    sources: ModelSources, base: Path, unet: UNet2DConditionModel, seed: Callable[[str], None]
) -> None:
    """``base``: the tiny SDXL folder already written; ``unet``: its UNet."""
    for spec in SDXL_CONTROLNETS.values():
        seed(spec.key)
        write_controlnet(unet, sources.local_path(spec))
    width = unet.config.block_out_channels
    channels = (width[0], width[1], width[2], width[2])  # SDXL's 320, 640, 1280, 1280
    assert len(channels) == T2I_XL_BLOCKS
    for name, spec in SDXL_T2I_ADAPTERS.items():
        seed(spec.key)
        write_t2i_adapter(T2I_IN_CHANNELS[name], channels, sources.local_path(spec), **T2I_XL)  # type: ignore[arg-type]
    seed(SDXL_INPAINTING_UNET.key)
    _write_inpainting_model(base, sources.local_path(SDXL_INPAINTING_UNET).parent, unet)
    seed(SDXL_VAE_FP16_FIX.key)
    vae = AutoencoderKL.load_config(base / "vae")
    # The fix keeps SDXL's VAE architecture and scaling; its config turns off the float32 upcast.
    AutoencoderKL.from_config({**vae, "force_upcast": False}).save_pretrained(sources.local_path(SDXL_VAE_FP16_FIX))


def _write_inpainting_model(base: Path, folder: Path, unet: UNet2DConditionModel) -> None:
    """SDXL base's folder with a 9-channel UNet of its own (latents, mask, masked-image latents), as
    diffusers/stable-diffusion-xl-1.0-inpainting-0.1 is laid out; the other parts are linked."""
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(base, folder, copy_function=_link_or_copy, ignore=shutil.ignore_patterns("unet"))
    inpainting = UNet2DConditionModel.from_config({**unet.config, "in_channels": INPAINTING_CHANNELS})
    _from_base(inpainting, unet)
    inpainting.save_pretrained(folder / "unet")
    index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    (folder / "model_index.json").unlink()  # a link to the base's own file, which must stay as it is
    index["_class_name"] = "StableDiffusionXLInpaintPipeline"
    (folder / "model_index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")


def _from_base(inpainting: UNet2DConditionModel, base: UNet2DConditionModel) -> None:
    """The base's responsive weights (as the real model was finetuned from SDXL base), and Gaussian
    weights for conv_in's mask and masked-image channels, so that the image around the mask shows."""
    state = {name: value for name, value in base.state_dict().items() if name != "conv_in.weight"}
    inpainting.load_state_dict(state, strict=False)
    latent = base.config.in_channels
    extra = INPAINTING_CHANNELS - latent
    with torch.no_grad():
        inpainting.conv_in.weight[:, :latent] = base.conv_in.weight
        fan_in = extra * math.prod(inpainting.conv_in.kernel_size)
        inpainting.conv_in.weight[:, latent:] = torch.randn_like(inpainting.conv_in.weight[:, latent:]) / fan_in**0.5


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # a filesystem without hard links
        shutil.copyfile(source, target)
