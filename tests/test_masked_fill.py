"""A1111's "fill" (``inpainting_fill: 0``) in image space: known pixels kept, the masked part a wash of
the colours around it."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ipa_demo.masked_fill import masked_fill

from .helpers import noise_image


def halves(left: tuple[int, int, int], right: tuple[int, int, int], size: int = 64) -> Image.Image:
    image = Image.new("RGB", (size, size), left)
    image.paste(right, (size // 2, 0, size, size))
    return image


def right_half_mask(size: int = 64) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    mask.paste(255, (size // 2, 0, size, size))
    return mask


def test_the_masked_part_takes_the_colours_around_it_and_the_rest_is_kept() -> None:
    image = noise_image(64, 64, seed=2)
    image.paste((200, 20, 20), (0, 0, 32, 64))  # known: red; masked: noise, which must not show
    filled = np.asarray(masked_fill(image, right_half_mask()), dtype=int)
    assert np.array_equal(filled[:, :32], np.asarray(image, dtype=int)[:, :32])
    assert np.abs(filled[:, 32:] - np.array([200, 20, 20])).max() <= 1


def test_each_masked_pixel_leans_to_the_nearer_known_colour() -> None:
    image = halves((0, 0, 255), (0, 0, 0), size=96)
    image.paste((255, 0, 0), (64, 0, 96, 96))  # blue | (masked) | red
    mask = Image.new("L", (96, 96), 0)
    mask.paste(255, (32, 0, 64, 96))
    filled = np.asarray(masked_fill(image, mask), dtype=int)
    near_blue, near_red = filled[:, 34], filled[:, 61]
    assert (near_blue[:, 2] > near_blue[:, 0]).all() and (near_red[:, 0] > near_red[:, 2]).all()


def test_nothing_known_is_black_as_in_a1111() -> None:
    filled = masked_fill(noise_image(32, 32, seed=1), Image.new("L", (32, 32), 255))
    assert np.asarray(filled).max() == 0
