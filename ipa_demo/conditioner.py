"""The one way a conditioner joins the denoising loop.

A conditioner (IP-Adapter, ControlNet, T2I-Adapter, reference-only, ...) is prepared once per
generation from the settings, begun once when the loop has drawn its initial latents (it may
draw random numbers of its own then, from the same per-image generators, so that the random stream
stays the one diffusers draws), and asked once per step for its part of that step's UNet call. The
loop passes the call through its conditioners in order and knows none of them by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from .unet_call import UNetCall


@dataclass(frozen=True)
class Sampling:
    """The per-image random streams of one generation (image i draws from generator i)."""

    generators: list[torch.Generator]
    draw: Callable[[tuple[int, ...]], torch.Tensor]  # standard normal noise, one slice per generator
    latent_scale: float  # the VAE's scaling factor

    def sample(self, posterior: DiagonalGaussianDistribution) -> torch.Tensor:
        """One posterior sample per image, each from that image's generator, as diffusers draws them."""
        return self.latent_scale * torch.cat([posterior.sample(generator) for generator in self.generators])


@dataclass(frozen=True)
class BatchLayout:
    """How a generation's UNet batch is laid out, which conditioners prepare their inputs for."""

    num_images: int
    guided: bool  # classifier-free guidance: [unconditional × n ; conditional × n], else [conditional × n]
    device: torch.device


@dataclass(frozen=True)
class Step:
    """Where the loop is: the ``index``-th of ``total`` steps, at ``timestep``."""

    index: int
    total: int
    timestep: torch.Tensor
    scheduler: SchedulerMixin
    unet: UNet2DConditionModel
    guided: bool  # classifier-free guidance: the call's rows are [unconditional ; conditional]


class Conditioner(ABC):
    """Something that steers each step's UNet call."""

    def begin(self, sampling: Sampling) -> Conditioner:
        """The conditioner for this run; one that draws no random numbers is its own."""
        return self

    @abstractmethod
    def join(self, call: UNetCall, step: Step) -> UNetCall:
        """This step's call with this conditioner's part added (the call itself outside its window)."""

    def after_step(self, latents: torch.Tensor, step: Step) -> torch.Tensor:
        """The latents the scheduler returned at ``step``, as this conditioner leaves them (most: as they are)."""
        return latents


class LatentStart(ABC):
    """Where a generation's latents start: noise (txt2img), a noised image (img2img), a masked image (inpainting).

    It chooses the timesteps the loop runs, draws the first latents from the generation's random
    streams, and may bring conditioners of its own, which join every step after all the others.
    """

    @abstractmethod
    def timesteps(self, scheduler: SchedulerMixin, steps: int) -> torch.Tensor:
        """The part of the scheduler's schedule (already set for ``steps``) that the loop runs."""

    @abstractmethod
    def begin(
        self, sampling: Sampling, scheduler: SchedulerMixin, timesteps: torch.Tensor, shape: tuple[int, ...], guided: bool
    ) -> tuple[torch.Tensor, tuple[Conditioner, ...]]:
        """The first latents, of ``shape``, and the conditioners this start brings."""
