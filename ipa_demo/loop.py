"""The one denoising loop: txt2img or img2img, classifier-free guidance, and a list of conditioners.

It makes the same calls, in the same order and with the same random draws, as diffusers'
``StableDiffusionPipeline`` and ``StableDiffusionImg2ImgPipeline``, so that on the same weights and
seeds it returns the same pixels; the parity tests hold it to that. Per-image CPU generators
seeded ``seed, seed+1, ...`` make each image of a batch reproducible on its own.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image

from .conditioner import Conditioner, LatentStart, Sampling, Step
from .models.loading import StableDiffusionModels, needs_upcast  # noqa: F401  (needs_upcast: its old home)
from .schedulers import make_scheduler
from .sdxl.text import SizeConditioning
from .settings import GenerationSettings
from .starts import FROM_NOISE, strength_steps
from .unet_call import UNetCall

StepCallback = Callable[[int, int], None]  # (steps done, total); may raise to stop the run


def within(on_step: StepCallback | None, done: int, total: int, cells: int = 1) -> StepCallback | None:
    """A run's step callback as part of a longer job: ``done`` steps before it, ``total`` in all; a
    run making ``cells`` images at once (a sweep's batch) advances the job by that many per step."""
    if on_step is None:
        return None
    report = on_step
    return lambda step, _steps: report(done + step * cells, total)


def steps_to_run(settings: GenerationSettings, img2img: bool) -> int:
    """How many denoising steps a generation makes: img2img keeps the ``strength`` tail of the schedule."""
    return strength_steps(settings.steps, settings.strength) if img2img else settings.steps


class GenerationCancelled(Exception):
    """Raised by a step callback to stop a run between two steps."""


@dataclass(frozen=True)
class TextConditioning:
    embeddings: torch.Tensor  # [negative × n ; positive × n] under CFG, else [positive × n]
    warnings: tuple[str, ...]
    added: Mapping[str, torch.Tensor] | None = None  # SDXL: the UNet's ``added_cond_kwargs``, rows alike


def uses_guidance(settings: GenerationSettings) -> bool:
    return settings.guidance > 1.0


# A fast tokenizer keeps its padding/truncation settings as shared state: two requests tokenizing at
# once with different settings can get each other's (a 77-token batch padded to 2, seen in tests).
_TOKENIZER_LOCK = threading.Lock()


def _tokenize(models: StableDiffusionModels, text: str) -> tuple[torch.Tensor, bool]:
    tokenizer = models.tokenizer
    with _TOKENIZER_LOCK:
        ids = tokenizer(
            text, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
        ).input_ids
        untruncated = tokenizer(text, padding="longest", return_tensors="pt").input_ids
    return ids, untruncated.shape[-1] > ids.shape[-1]


@torch.no_grad()
def encode_text(models: StableDiffusionModels, settings: GenerationSettings) -> TextConditioning:
    if models.two_encoders is not None:  # SDXL: both encoders, the pooled text and the size's time ids
        text = models.two_encoders.encode(
            settings.prompt, settings.negative_prompt, uses_guidance(settings), settings.num_images
        )
        added = text.added_cond_kwargs(SizeConditioning(original=(settings.height, settings.width)))
        return TextConditioning(text.embeddings.to(models.dtype), text.warnings, added)
    warnings = []
    batches = []
    texts = [("prompt", settings.prompt)]
    if uses_guidance(settings):
        texts.insert(0, ("negative prompt", settings.negative_prompt))
    for label, text in texts:
        ids, truncated = _tokenize(models, text)
        if truncated:
            limit = models.tokenizer.model_max_length - 2
            warnings.append(f"The {label} is longer than CLIP's {limit} tokens; the words past that were ignored.")
        embeds = models.text_encoder(ids.to(models.device))[0].to(models.dtype)
        batches.append(embeds.repeat_interleave(settings.num_images, dim=0))
    return TextConditioning(torch.cat(batches), tuple(warnings))


def _generators(seeds: tuple[int, ...]) -> list[torch.Generator]:
    return [torch.Generator("cpu").manual_seed(seed) for seed in seeds]


def _step_kwargs(scheduler: object, generators: list[torch.Generator]) -> dict[str, object]:
    accepted = set(inspect.signature(scheduler.step).parameters)  # type: ignore[attr-defined]
    kwargs: dict[str, object] = {}
    if "eta" in accepted:
        kwargs["eta"] = 0.0
    if "generator" in accepted:
        kwargs["generator"] = generators
    return kwargs


def encode_to_posterior(models: StableDiffusionModels, image: Image.Image) -> DiagonalGaussianDistribution:
    """The VAE posterior of an image already at the generation size (deterministic, so cacheable)."""
    pixels = models.image_processor.preprocess(image).to(models.device, models.dtype)
    with torch.no_grad():
        return models.vae.encode(pixels).latent_dist


@dataclass(frozen=True)
class Conditioning:
    """Everything a generation is steered by, prepared once before the loop."""

    text: TextConditioning
    conditioners: tuple[Conditioner, ...] = ()  # each adds its part to every step's UNet call, in order
    start: LatentStart = FROM_NOISE  # txt2img; ``starts.FromImage``: img2img; ``inpainting.Inpainting``


@torch.no_grad()
def denoise(
    models: StableDiffusionModels,
    settings: GenerationSettings,
    conditioning: Conditioning,
    on_step: StepCallback | None = None,
    seeds: tuple[int, ...] | None = None,
) -> torch.Tensor:
    """Run the sampler and return the final latents, (n, 4, h/8, w/8).

    Image i draws its noise from ``seeds[i]`` (default: the settings' seeds, ``seed, seed+1, ...``);
    a sweep's cells batched together each keep their own.
    """
    scheduler = make_scheduler(settings.scheduler, models.scheduler_config)
    scheduler.set_timesteps(settings.steps, device=models.device)
    generators = _generators(seeds or settings.image_seeds)
    shape = (
        len(generators),
        models.unet.config.in_channels,
        settings.height // models.vae_scale_factor,
        settings.width // models.vae_scale_factor,
    )
    random = partial(randn_tensor, generator=generators, device=models.device, dtype=models.dtype)
    sampling = Sampling(generators, random, models.vae.config.scaling_factor)
    guided = uses_guidance(settings)
    timesteps = conditioning.start.timesteps(scheduler, settings.steps)
    latents, own = conditioning.start.begin(sampling, scheduler, timesteps, shape, guided)
    conditioners = [*(conditioner.begin(sampling) for conditioner in conditioning.conditioners), *own]

    text, added = conditioning.text.embeddings, conditioning.text.added
    step_kwargs = _step_kwargs(scheduler, generators)
    total = len(timesteps)
    for index, timestep in enumerate(timesteps):
        model_input = torch.cat([latents] * 2) if guided else latents
        call = UNetCall(scheduler.scale_model_input(model_input, timestep), text, added_cond_kwargs=added)
        step = Step(index, total, timestep, scheduler, models.unet, guided)
        for conditioner in conditioners:
            call = conditioner.join(call, step)
        noise_pred = call.run(models.unet, timestep)
        if guided:
            uncond, cond = noise_pred.chunk(2)
            noise_pred = uncond + settings.guidance * (cond - uncond)
        latents = scheduler.step(noise_pred, timestep, latents, **step_kwargs, return_dict=False)[0]
        for conditioner in conditioners:
            latents = conditioner.after_step(latents, step)
        if on_step is not None:
            on_step(index + 1, total)
    return latents


@torch.no_grad()
def decode(models: StableDiffusionModels, latents: torch.Tensor) -> np.ndarray:
    """Latents -> float images in [0, 1], (n, h, w, 3)."""
    latents = latents / models.vae.config.scaling_factor
    vae = models.decoding_vae()  # an overflowing float16 VAE's float32 copy, made once per loaded model
    pixels = vae.decode(latents.to(vae.dtype), return_dict=False)[0]
    return models.image_processor.postprocess(pixels, output_type="np", do_denormalize=[True] * len(pixels))
