"""The two plain ways a generation's latents start: from noise (txt2img) and from a noised image (img2img).

Inpainting, the third, lives in ``inpainting.py``. Each draws exactly what diffusers' pipeline draws,
in the same order, from the same per-image generators.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from .conditioner import Conditioner, LatentStart, Sampling


def strength_steps(steps: int, strength: float) -> int:
    """How many steps img2img runs: the ``strength`` tail of the schedule."""
    return min(int(steps * strength), steps)


def tail_timesteps(scheduler: SchedulerMixin, steps: int, strength: float) -> torch.Tensor:
    """The tail of the schedule that ``strength`` keeps, as diffusers' img2img computes it."""
    start = max(steps - strength_steps(steps, strength), 0) * scheduler.order
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(start)
    return scheduler.timesteps[start:]


class FromNoise(LatentStart):
    """txt2img: every step, from pure noise."""

    def timesteps(self, scheduler: SchedulerMixin, steps: int) -> torch.Tensor:
        return scheduler.timesteps

    def begin(
        self, sampling: Sampling, scheduler: SchedulerMixin, timesteps: torch.Tensor, shape: tuple[int, ...], guided: bool
    ) -> tuple[torch.Tensor, tuple[Conditioner, ...]]:
        return sampling.draw(shape) * scheduler.init_noise_sigma, ()


@dataclass(frozen=True)
class FromImage(LatentStart):
    """img2img: the image's latents noised to the first step that ``strength`` keeps."""

    posterior: DiagonalGaussianDistribution
    strength: float

    def timesteps(self, scheduler: SchedulerMixin, steps: int) -> torch.Tensor:
        return tail_timesteps(scheduler, steps, self.strength)

    def begin(
        self, sampling: Sampling, scheduler: SchedulerMixin, timesteps: torch.Tensor, shape: tuple[int, ...], guided: bool
    ) -> tuple[torch.Tensor, tuple[Conditioner, ...]]:
        clean = sampling.sample(self.posterior)
        return scheduler.add_noise(clean, sampling.draw(clean.shape), timesteps[:1].repeat(shape[0])), ()


FROM_NOISE = FromNoise()
