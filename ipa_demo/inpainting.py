"""Inpainting: redo the white part of a mask over an init image, keep the rest.

Two kinds of UNet, as diffusers' ``StableDiffusionInpaintPipeline`` runs them:
- an inpainting UNet (9 input channels) sees, beside the latents, the mask and the VAE latents of
  the init image with the masked part blanked out, at every step;
- a plain UNet (4 channels) denoises everything, and after each step the latents outside the mask
  are replaced by the init image's latents noised to the next step's level.
The random draws (init image sample, noise, masked-image sample) come in diffusers' order, from
the same generators, so the parity tests can hold the two to the same pixels.

What the masked part starts from (A1111's "Masked content", ``LatentFill``): "original", the init image's
latents noised like the rest (diffusers' rule); "latent noise", those latents replaced inside the mask by
the noise drawn for the start before the start is noised (A1111 draws its fill from the image's seed, so
its fill is that same noise), which gives the masked part more noise than the rest; "latent nothing",
replaced by zeros, so the masked part starts from noise around a grey. The mask is the latent-size mask the
steps keep the init image outside of, so outside it nothing changes. At strength 1 the latents start from
pure noise (diffusers' rule) and no fill changes anything; A1111's own pixel-space "fill" is done before
the engine (``masked_fill.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import torch
import torch.nn.functional as F
from diffusers.image_processor import VaeImageProcessor
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
from PIL import Image

from diffusers.schedulers.scheduling_utils import SchedulerMixin

from .conditioner import Conditioner, LatentStart, Sampling, Step
from .models.loading import StableDiffusionModels
from .settings import GenerationSettings, SettingsError
from .starts import tail_timesteps
from .structure.control_maps import fit_to_size
from .unet_call import UNetCall

INPAINTING_CHANNELS = 9
LatentFill = Literal["original", "latent noise", "latent nothing"]
LATENT_FILLS: tuple[LatentFill, ...] = ("original", "latent noise", "latent nothing")


def is_inpainting_unet(models: StableDiffusionModels) -> bool:
    return models.unet.config.in_channels == INPAINTING_CHANNELS


def check_inpainting(
    models: StableDiffusionModels, settings: GenerationSettings, has_init: bool, has_mask: bool
) -> None:
    if has_mask and not has_init:
        raise SettingsError("mask_image", "a mask needs an init image to paint on")
    if is_inpainting_unet(models) and not has_mask:
        raise SettingsError("mask_image", "this base model is an inpainting model: give an init image and a mask")
    if has_mask and settings.reference_only.is_active and is_inpainting_unet(models):
        raise SettingsError("ref_only", "reference-only cannot run through an inpainting UNet (9 input channels)")


@dataclass(frozen=True)
class Inpainting(LatentStart):
    """A request's mask and images, prepared once before the loop: where its latents start."""

    init: DiagonalGaussianDistribution  # VAE posterior of the init image
    masked: DiagonalGaussianDistribution  # ... of the init image with the masked part blanked
    mask: torch.Tensor  # (1, 1, h, w) of 0 and 1 at latent size; 1: repaint
    with_mask_channels: bool  # an inpainting UNet: the mask and masked latents join its input
    strength: float
    fill: LatentFill = "original"

    @classmethod
    def prepare(
        cls,
        models: StableDiffusionModels,
        init_image: Image.Image,
        mask_image: Image.Image,
        init: DiagonalGaussianDistribution,
        settings: GenerationSettings,
        fill: LatentFill = "original",
    ) -> Inpainting:
        size = (settings.width, settings.height)
        processor = VaeImageProcessor(
            vae_scale_factor=models.vae_scale_factor, do_normalize=False, do_binarize=True, do_convert_grayscale=True
        )
        mask = processor.preprocess(fit_to_size(mask_image, *size).convert("L"))  # 1 where white (>= 0.5)
        pixels = models.image_processor.preprocess(fit_to_size(init_image, *size)).to(torch.float32)
        masked_pixels = (pixels * (mask < 0.5)).to(models.device, models.dtype)
        with torch.no_grad():
            masked = models.vae.encode(masked_pixels).latent_dist
        latent_size = (settings.height // models.vae_scale_factor, settings.width // models.vae_scale_factor)
        mask = F.interpolate(mask, size=latent_size).to(models.device, models.dtype)
        if fill not in LATENT_FILLS:
            raise SettingsError("latent_fill", f"must be one of {', '.join(LATENT_FILLS)}, got {fill!r}"[:200])
        return cls(init, masked, mask, is_inpainting_unet(models), settings.strength, fill)

    def timesteps(self, scheduler: SchedulerMixin, steps: int) -> torch.Tensor:
        return tail_timesteps(scheduler, steps, self.strength)

    def begin(
        self, sampling: Sampling, scheduler: SchedulerMixin, timesteps: torch.Tensor, shape: tuple[int, ...], guided: bool
    ) -> tuple[torch.Tensor, tuple[Conditioner, ...]]:
        """The first latents, and the conditioner each step needs. Draws as diffusers does: the init image's
        sample from the first generator only (one image, repeated), then noise from every generator."""
        count = shape[0]
        first = sampling.generators[0]
        full_strength = self.strength == 1.0
        image_latents = None
        if not self.with_mask_channels or not full_strength:
            image_latents = (sampling.latent_scale * self.init.sample(first)).repeat(count, 1, 1, 1)
        shape = (count, self.init.mean.shape[1], *self.mask.shape[-2:])
        noise = sampling.draw(shape)
        mask = self.mask.repeat(count, 1, 1, 1)
        if image_latents is not None and self.fill != "original":
            filler = noise if self.fill == "latent noise" else torch.zeros_like(noise)
            image_latents = image_latents * (1 - mask) + filler * mask
        if full_strength:
            latents = noise * scheduler.init_noise_sigma  # type: ignore[attr-defined]
        else:
            latents = scheduler.add_noise(image_latents, noise, timesteps[:1].repeat(count))  # type: ignore[attr-defined]
        masked = (sampling.latent_scale * self.masked.sample(first)).repeat(count, 1, 1, 1)
        extra = torch.cat([torch.cat([mask] * 2), torch.cat([masked] * 2)] if guided else [mask, masked], dim=1)
        running = RunningInpainting(self.with_mask_channels, extra, mask, image_latents, noise, scheduler, timesteps)
        return latents, (running,)


@dataclass(frozen=True)
class RunningInpainting(Conditioner):
    """Joins each step last: the mask channels into an inpainting UNet's input, or the init image kept
    outside the mask after a plain UNet's step."""

    with_mask_channels: bool
    extra_channels: torch.Tensor  # mask and masked-image latents, batched like the UNet input
    mask: torch.Tensor  # (n, 1, h, w)
    image_latents: torch.Tensor | None  # the init image's latents, for blending (plain UNet)
    noise: torch.Tensor
    scheduler: object
    timesteps: torch.Tensor

    def join(self, call: UNetCall, step: Step) -> UNetCall:
        """The call as the UNet takes it: with the mask channels for an inpainting UNet."""
        if not self.with_mask_channels:
            return call
        return replace(call, sample=torch.cat([call.sample, self.extra_channels], dim=1))

    def after_step(self, latents: torch.Tensor, step: Step) -> torch.Tensor:
        """A plain UNet's latents, kept from the init image outside the mask."""
        if self.with_mask_channels:
            return latents
        assert self.image_latents is not None
        known = self.image_latents
        if step.index < len(self.timesteps) - 1:
            next_step = torch.tensor([self.timesteps[step.index + 1]])
            known = self.scheduler.add_noise(known, self.noise, next_step)  # type: ignore[attr-defined]
        return (1 - self.mask) * known + self.mask * latents
