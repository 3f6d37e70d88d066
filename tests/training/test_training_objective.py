"""Per-sample draws: fixed by the global index, so neither the split nor resuming changes them."""

from __future__ import annotations

import torch

from ipa_demo.training.objective import DropRates, batch_loss, draw_for_samples

SHAPE = (4, 8, 8)


def test_draws_depend_on_the_index_not_the_batch() -> None:
    whole = draw_for_samples([10, 11, 12, 13], seed=7, latent_shape=SHAPE, num_timesteps=1000, drops=DropRates())
    half = draw_for_samples([12, 13], seed=7, latent_shape=SHAPE, num_timesteps=1000, drops=DropRates())
    assert torch.equal(whole.noise[2:], half.noise) and torch.equal(whole.timesteps[2:], half.timesteps)
    assert torch.equal(whole.latent_noise[2:], half.latent_noise)
    assert whole.drop_text[2:] == half.drop_text and whole.drop_image[2:] == half.drop_image
    other_seed = draw_for_samples([12, 13], seed=8, latent_shape=SHAPE, num_timesteps=1000, drops=DropRates())
    assert not torch.equal(other_seed.noise, half.noise)


def test_drop_rates_are_exclusive_and_near_their_targets() -> None:
    draws = draw_for_samples(list(range(4000)), seed=0, latent_shape=(1, 1, 1), num_timesteps=1000, drops=DropRates())
    text = torch.tensor(draws.drop_text)
    image = torch.tensor(draws.drop_image)
    for observed in ((text & ~image).float().mean(), (image & ~text).float().mean(), (text & image).float().mean()):
        assert 0.04 < observed < 0.06
    assert 0 <= int(draws.timesteps.min()) and int(draws.timesteps.max()) < 1000


def test_no_drops_when_the_rates_are_zero() -> None:
    draws = draw_for_samples(list(range(200)), 0, (1, 1, 1), 1000, DropRates(0.0, 0.0, 0.0))
    assert not any(draws.drop_text) and not any(draws.drop_image)


def test_loss_is_averaged_over_the_batch_size_so_process_means_add_up() -> None:
    per_sample = torch.tensor([1.0, 2.0, 3.0, 4.0])
    weights = torch.tensor([1.0, 0.0, 1.0, 1.0])
    whole = batch_loss(per_sample, weights)
    halves = (batch_loss(per_sample[:2], weights[:2]) + batch_loss(per_sample[2:], weights[2:])) / 2
    assert torch.isclose(whole, halves) and torch.isclose(whole, torch.tensor(2.0))
