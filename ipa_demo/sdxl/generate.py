"""A standalone SDXL txt2img and img2img from the app's pieces: the proof that the text conditioning,
the time ids and the UNet call with ``added_cond_kwargs`` are what the engine's loop needs for SDXL.

It makes the calls diffusers' ``StableDiffusionXL{,Img2Img}Pipeline`` make, in the same order and with the same
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
from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
from diffusers.image_processor import VaeImageProcessor
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image

from ..ip_adapter.attention import IPAttention
from ..ip_adapter.image_encoder import ImageEncoding
from ..ip_adapter.weights import IPAdapterWeights
from ..schedulers import make_scheduler
from ..unet_setup import prepare_unet
from .inpaint import INPAINTING_CHANNELS, InpaintInput, inpainting_channels
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
        unet = UNet2DConditionModel.from_pretrained(folder / "unet").eval()
        prepare_unet(unet)  # the app's processors: with no image prompt they compute what diffusers' do
        return cls(
            text=SDXLTextEncoders.from_folder(folder),
            unet=unet,
            vae=AutoencoderKL.from_pretrained(folder / "vae").eval(),
            scheduler_config=dict(EulerDiscreteScheduler.load_config(folder / "scheduler")),  # any class reads it
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
def generate(
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
    init_image: Image.Image | None = None,
    strength: float = 0.3,
    inpaint: InpaintInput | None = None,
) -> np.ndarray:
    """Images in [0, 1], (n, height, width, 3). txt2img at ``size`` (height, width), or img2img from
    ``init_image`` at its own size, keeping the ``strength`` tail of the schedule, or a 9-channel
    model's inpainting of ``inpaint`` from pure noise. ``ip``: image prompt units; ``structure``:
    ControlNet / T2I-Adapter residuals for every step."""
    if (models.unet.config.in_channels == INPAINTING_CHANNELS) != (inpaint is not None):
        raise ValueError("a 9-channel inpainting UNet needs an image and a mask, and only it takes them")
    source = init_image or (inpaint.image if inpaint is not None else None)
    if source is not None:
        size = (source.height, source.width)
    height, width = size
    guided = guidance > 1.0
    text = models.text.encode(prompt, negative_prompt, guided, num_images=len(seeds))
    added = unet_added_conditioning(text, SizeConditioning(original=size))
    scheduler = make_scheduler(sampler, models.scheduler_config)
    scheduler.set_timesteps(steps)
    generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
    dtype = text.embeddings.dtype
    if init_image is None:
        timesteps = scheduler.timesteps
        scale = models.vae_scale_factor
        shape = (len(seeds), models.vae.config.latent_channels, height // scale, width // scale)
        latents = randn_tensor(shape, generator=generators, dtype=dtype) * scheduler.init_noise_sigma
    else:
        timesteps = _img2img_timesteps(scheduler, steps, strength)
        clean = encode(models.vae, init_image, generators)
        noise = randn_tensor(clean.shape, generator=generators, dtype=dtype)
        latents = scheduler.add_noise(clean, noise, timesteps[:1].repeat(len(seeds)))
    extra = None if inpaint is None else inpainting_channels(models.vae, inpaint, generators, guided)
    step_kwargs = _step_kwargs(scheduler, generators)
    for timestep in timesteps:
        model_input = scheduler.scale_model_input(torch.cat([latents] * 2) if guided else latents, timestep)
        residuals: dict[str, object] = {}
        for step in structure:
            residuals |= step(model_input, timestep, text.embeddings, added["added_cond_kwargs"])
        noise = models.unet(
            model_input if extra is None else torch.cat([model_input, extra], dim=1),
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


def _img2img_timesteps(scheduler: object, steps: int, strength: float) -> torch.Tensor:
    """The tail of the schedule that ``strength`` keeps, as diffusers' img2img pipelines compute it."""
    kept = min(int(steps * strength), steps)
    start = max(steps - kept, 0) * scheduler.order  # type: ignore[attr-defined]
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(start)
    return scheduler.timesteps[start:]  # type: ignore[attr-defined]


@torch.no_grad()
def encode(vae: AutoencoderKL, image: Image.Image, generators: list[torch.Generator]) -> torch.Tensor:
    """One latent sample of ``image`` per generator, scaled as the UNet reads latents (the inverse of ``decode``)."""
    processor = VaeImageProcessor(vae_scale_factor=2 ** (len(vae.config.block_out_channels) - 1))
    pixels = processor.preprocess(image).to(vae.device, vae.dtype)
    posterior = vae.encode(pixels).latent_dist
    sample = torch.cat([posterior.sample(generator) for generator in generators])
    mean, std = _latent_statistics(vae, sample)
    if mean is not None and std is not None:
        return (sample - mean) * vae.config.scaling_factor / std
    return vae.config.scaling_factor * sample


@torch.no_grad()
def decode(vae: AutoencoderKL, latents: torch.Tensor) -> np.ndarray:
    """Latents to images in [0, 1], undoing the VAE's scaling (and its latent mean and spread where
    its config has them, as some SDXL-family VAEs do)."""
    mean, std = _latent_statistics(vae, latents)
    if mean is not None and std is not None:
        latents = latents * std / vae.config.scaling_factor + mean
    else:
        latents = latents / vae.config.scaling_factor
    if needs_upcast(vae):  # SDXL's own VAE overflows in float16: decode in float32, as diffusers does
        vae.to(torch.float32)
        try:
            pixels = vae.decode(latents.float(), return_dict=False)[0]
        finally:
            vae.to(torch.float16)
    else:
        pixels = vae.decode(latents.to(vae.dtype), return_dict=False)[0]
    processor = VaeImageProcessor(vae_scale_factor=2 ** (len(vae.config.block_out_channels) - 1))
    return processor.postprocess(pixels, output_type="np")  # type: ignore[return-value]


def needs_upcast(vae: AutoencoderKL) -> bool:
    """A float16 VAE whose config says it overflows there (SDXL base's); ``madebyollin/sdxl-vae-fp16-fix``
    says it does not, so the engine loads that one for float16 and decodes without the float32 copy."""
    return vae.dtype == torch.float16 and bool(getattr(vae.config, "force_upcast", False))


def _latent_statistics(vae: AutoencoderKL, like: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    mean, std = getattr(vae.config, "latents_mean", None), getattr(vae.config, "latents_std", None)
    if mean is None or std is None:
        return None, None
    shape = (1, like.shape[1], 1, 1)
    return torch.tensor(mean).view(shape).to(like), torch.tensor(std).view(shape).to(like)


def _step_kwargs(scheduler: object, generators: list[torch.Generator]) -> dict[str, object]:
    accepted = set(inspect.signature(scheduler.step).parameters)  # type: ignore[attr-defined]
    kwargs: dict[str, object] = {"eta": 0.0} if "eta" in accepted else {}
    return kwargs | ({"generator": generators} if "generator" in accepted else {})
