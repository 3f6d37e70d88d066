"""Small test inputs made on the spot."""

from __future__ import annotations

import numpy as np
from PIL import Image


def noise_image(width: int, height: int, seed: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)
