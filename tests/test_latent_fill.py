"""A1111's "Masked content" in the latents (``inpainting_fill`` 2 "latent noise", 3 "latent nothing"):
the masked latents are replaced before the start is noised, the others are not touched."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
from diffusers.utils.torch_utils import randn_tensor

from ipa_demo.conditioner import Sampling
from ipa_demo.engine import Engine
from ipa_demo.inpainting import Inpainting, LatentFill
from ipa_demo.schedulers import make_scheduler
from ipa_demo.settings import SettingsError
from ipa_demo.starts import tail_timesteps

from .helpers import noise_image
from .test_inpainting import SETTINGS, mask_image


def _start(engine: Engine, fill: LatentFill) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(first latents, the init image's latents, the start's noise, the latent mask) of one plain-UNet start."""
    init = noise_image(SETTINGS.width, SETTINGS.height, seed=4)
    start = Inpainting.prepare(engine.models, init, mask_image(SETTINGS.width, SETTINGS.height),
                               engine.posterior(init, SETTINGS), SETTINGS, fill)  # fmt: skip
    generators = [torch.Generator().manual_seed(seed) for seed in SETTINGS.image_seeds]
    sampling = Sampling(generators, partial(randn_tensor, generator=generators), engine.models.vae.config.scaling_factor)
    scheduler = make_scheduler(SETTINGS.scheduler, engine.models.scheduler_config)
    scheduler.set_timesteps(SETTINGS.steps)
    timesteps = tail_timesteps(scheduler, SETTINGS.steps, SETTINGS.strength)
    shape = (2, 4, SETTINGS.height // 8, SETTINGS.width // 8)
    latents, (running,) = start.begin(sampling, scheduler, timesteps, shape, True)
    return latents, running.image_latents, running.noise, running.mask  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def original(engine: Engine) -> tuple[torch.Tensor, ...]:
    return _start(engine, "original")


@pytest.mark.parametrize("fill", ["latent noise", "latent nothing"])
def test_the_masked_latents_start_from_a1111s_fill(engine: Engine, original, fill: LatentFill) -> None:
    latents, _, _, mask = _start(engine, fill)
    first, image_latents, noise, _ = original
    assert 0 < mask.mean() < 1
    keep = (mask == 0).expand_as(latents)
    assert torch.equal(latents[keep], first[keep]), "outside the mask the start is the init image's, untouched"
    scheduler = make_scheduler(SETTINGS.scheduler, engine.models.scheduler_config)
    scheduler.set_timesteps(SETTINGS.steps)
    timestep = tail_timesteps(scheduler, SETTINGS.steps, SETTINGS.strength)[:1].repeat(2)
    filler = noise if fill == "latent noise" else torch.zeros_like(noise)  # A1111: its seed's noise, or zeros
    expected = scheduler.add_noise(image_latents * (1 - mask) + filler * mask, noise, timestep)
    assert torch.allclose(latents, expected, atol=1e-5)
    assert not torch.allclose(latents[~keep], first[~keep], atol=1e-2)


def test_a_latent_fill_changes_the_image_and_not_what_lies_outside(engine: Engine) -> None:
    init, mask = noise_image(SETTINGS.width, SETTINGS.height, seed=4), mask_image(SETTINGS.width, SETTINGS.height)
    kept = engine.generate(SETTINGS, init_image=init, mask_image=mask).pixels
    for fill in ("latent noise", "latent nothing"):
        filled = engine.generate(SETTINGS, init_image=init, mask_image=mask, latent_fill=fill).pixels  # type: ignore[arg-type]
        assert np.abs(filled - kept)[:, :, SETTINGS.width // 2 + 8 :].max() > 0.01, fill


def test_an_unknown_fill_is_refused_by_name(engine: Engine) -> None:
    init = noise_image(SETTINGS.width, SETTINGS.height, seed=4)
    with pytest.raises(SettingsError) as caught:
        engine.generate(SETTINGS, init_image=init, mask_image=mask_image(72, 64), latent_fill="fill")  # type: ignore[arg-type]
    assert caught.value.field == "latent_fill"
