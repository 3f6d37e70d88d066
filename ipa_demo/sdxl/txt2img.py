"""A standalone SDXL txt2img from the app's pieces: the proof that the text conditioning, the time ids
and the UNet call with ``added_cond_kwargs`` are what the engine's loop needs for SDXL.

It makes the calls diffusers' ``StableDiffusionXLPipeline`` makes, in the same order and with the same
random draws (one CPU generator per image, as the app's loop seeds them), so on the same folder and
seeds it returns the same pixels. The engine's own loop takes its place once it runs SDXL; this
function stays as the reference the SDXL pieces are tested through.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.image_processor import VaeImageProcessor
from diffusers.utils.torch_utils import randn_tensor

from ..ip_adapter.attention import IPAttention
from ..ip_adapter.image_encoder import ImageEncoding
from ..ip_adapter.weights import IPAdapterWeights
from ..schedulers import make_scheduler
from ..unet_setup import prepare_unet
from .structure import StructureStep
from .text import SDXLText, SDXLTextEncoders, SizeConditioning


@dataclass(frozen=True)
class SDXLModels:
    text: SDXLTextEncoders
    unet: UNet2DConditionModel
    vae: AutoencoderKL
    scheduler_config: dict[str, Any]

    @classmethod
    def from_folder(cls, folder: Path) -> SDXLModels:
        from diffusers import EulerDiscreteScheduler

        unet = UNet2DConditionModel.from_pretrained(folder / "unet").eval()
        prepare_unet(unet)  # the app's processors: with no image prompt they compute what diffusers' do
        return cls(
            text=SDXLTextEncoders.from_folder(folder),
            unet=unet,
            vae=AutoencoderKL.from_pretrained(folder / "vae").eval(),
            scheduler_config=dict(EulerDiscreteScheduler.load_config(folder / "scheduler")),
        )

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)


def unet_added_conditioning(text: SDXLText, size: SizeConditioning) -> dict[str, dict[str, torch.Tensor]]:
    """The keyword the UNet call needs on SDXL besides the text tokens (``UNetCall.run`` passes it)."""
    return {"added_cond_kwargs": text.added_cond_kwargs(size)}


@torch.no_grad()
def image_prompt(
    weights: IPAdapterWeights, encoding: ImageEncoding, layer_scales: tuple[float, ...], num_images: int, guided: bool
) -> IPAttention:
    """One IP-Adapter unit's image tokens, rows laid out like the latents (``[negative × n ; positive × n]``)."""
    rows = [encoding.positive.repeat_interleave(num_images, dim=0)]
    if guided:
        rows.insert(0, encoding.negative.repeat_interleave(num_images, dim=0))
    return IPAttention(weights, weights.image_tokens(torch.cat(rows).to(weights.dtype)), layer_scales)


@torch.no_grad()
def txt2img(
    models: SDXLModels,
    prompt: str,
    negative_prompt: str = "",
    steps: int = 2,
    guidance: float = 5.0,
    size: tuple[int, int] = (64, 64),
    seeds: tuple[int, ...] = (0,),
    sampler: str = "Euler",
    ip: Sequence[IPAttention] = (),
    structure: Sequence[StructureStep] = (),
) -> np.ndarray:
    """Images in [0, 1], (n, height, width, 3); ``size`` is (height, width); ``ip``: image prompt units;
    ``structure``: ControlNet / T2I-Adapter residuals for every step."""
    height, width = size
    guided = guidance > 1.0
    text = models.text.encode(prompt, negative_prompt, guided, num_images=len(seeds))
    added = unet_added_conditioning(text, SizeConditioning(original=size))
    scheduler = make_scheduler(sampler, models.scheduler_config)
    scheduler.set_timesteps(steps)
    generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
    scale = models.vae_scale_factor
    shape = (len(seeds), models.unet.config.in_channels, height // scale, width // scale)
    latents = randn_tensor(shape, generator=generators, dtype=text.embeddings.dtype) * scheduler.init_noise_sigma
    step_kwargs = _step_kwargs(scheduler, generators)
    for timestep in scheduler.timesteps:
        model_input = scheduler.scale_model_input(torch.cat([latents] * 2) if guided else latents, timestep)
        residuals: dict[str, object] = {}
        for step in structure:
            residuals |= step(model_input, timestep, text.embeddings, added["added_cond_kwargs"])
        noise = models.unet(
            model_input,
            timestep,
            encoder_hidden_states=text.embeddings,
            cross_attention_kwargs={"ip": tuple(ip)},
            return_dict=False,
            **added,
            **residuals,
        )[0]
        if guided:
            uncond, cond = noise.chunk(2)
            noise = uncond + guidance * (cond - uncond)
        latents = scheduler.step(noise, timestep, latents, **step_kwargs, return_dict=False)[0]
    return decode(models.vae, latents)


@torch.no_grad()
def decode(vae: AutoencoderKL, latents: torch.Tensor) -> np.ndarray:
    """Latents to images in [0, 1], undoing the VAE's scaling (and its latent mean and spread where
    its config has them, as some SDXL-family VAEs do)."""
    mean, std = getattr(vae.config, "latents_mean", None), getattr(vae.config, "latents_std", None)
    if mean is not None and std is not None:
        channels = latents.shape[1]
        mean_t = torch.tensor(mean).view(1, channels, 1, 1).to(latents)
        std_t = torch.tensor(std).view(1, channels, 1, 1).to(latents)
        latents = latents * std_t / vae.config.scaling_factor + mean_t
    else:
        latents = latents / vae.config.scaling_factor
    pixels = vae.decode(latents, return_dict=False)[0]
    processor = VaeImageProcessor(vae_scale_factor=2 ** (len(vae.config.block_out_channels) - 1))
    return processor.postprocess(pixels, output_type="np")  # type: ignore[return-value]


def _step_kwargs(scheduler: object, generators: list[torch.Generator]) -> dict[str, object]:
    accepted = set(inspect.signature(scheduler.step).parameters)  # type: ignore[attr-defined]
    kwargs: dict[str, object] = {"eta": 0.0} if "eta" in accepted else {}
    return kwargs | ({"generator": generators} if "generator" in accepted else {})
