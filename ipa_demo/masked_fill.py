"""A1111's ``inpainting_fill: 0`` ("fill"): the masked part of the init image painted over with the
colours around it, blurred, before the image is encoded (in image space, as A1111 does it).

The idea, as A1111's ``masking.fill`` carries it out: the picture with the mask cut out (its alpha
``255 - mask``) is blurred at falling radii, each blur normalised by the blurred alpha so that only
known colours count, and the layers are laid over one another from the widest to the sharpest; the
last, unblurred layer puts the known pixels back as they were. So outside the mask the picture is
unchanged, and inside it is a smooth wash of the surrounding colours. (Where the mask covers the
whole picture no colour is known, and the fill is black, as in A1111.) Large blurs run on a smaller
copy of the picture: the result is a wash either way, and a 256-pixel Gaussian at full size would
take seconds.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

# (blur radius in pixels, times that layer is laid on): A1111's schedule, from the widest blur down.
LAYERS: tuple[tuple[int, int], ...] = ((256, 1), (64, 1), (16, 2), (4, 4), (2, 2), (0, 1))
SMALLEST_SIGMA = 4.0  # a blur is run on a copy shrunk until its radius is about this many pixels


def _blur(planes: np.ndarray, sigma: float) -> np.ndarray:
    if sigma == 0:
        return planes
    height, width = planes.shape[:2]
    shrink = max(1, int(sigma / SMALLEST_SIGMA))
    small = planes
    if shrink > 1:
        small = cv2.resize(planes, (max(1, width // shrink), max(1, height // shrink)), interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(small, (0, 0), sigma / shrink, borderType=cv2.BORDER_REPLICATE)
    if shrink > 1:
        blurred = cv2.resize(blurred, (width, height), interpolation=cv2.INTER_LINEAR)
    return blurred


def masked_fill(image: Image.Image, mask: Image.Image) -> Image.Image:
    """``image`` with the white part of ``mask`` (same size; grey: partly) filled from its surroundings."""
    colours = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
    known = 1 - np.asarray(mask.convert("L"), dtype=np.float32) / 255
    planes = np.dstack([colours * known[..., None], known])  # premultiplied colour, alpha
    laid = np.zeros_like(planes)
    for radius, times in LAYERS:
        layer = _blur(planes, radius)
        alpha = layer[..., 3:]
        # each layer "over" what lies below; its colour the blurred known colour, its alpha the blurred alpha
        colour = np.divide(layer[..., :3], alpha, out=np.zeros_like(layer[..., :3]), where=alpha > 1e-6)
        for _ in range(times):
            laid[..., :3] = colour * alpha + laid[..., :3] * (1 - alpha)
            laid[..., 3:] = alpha + laid[..., 3:] * (1 - alpha)
    total = laid[..., 3:]
    filled = np.divide(laid[..., :3], total, out=np.zeros_like(laid[..., :3]), where=total > 1e-6)
    return Image.fromarray(np.clip(np.rint(filled * 255), 0, 255).astype(np.uint8))
