"""Reading user images: any format Pillow reads, checked for size, turned upright and into plain RGB.

What we accept and how it is converted (never silently refused, never silently mangled):
EXIF orientation is applied; transparency is flattened onto white (what a viewer shows); CMYK and
palette images are converted; 16-bit greyscale is scaled to 8 bits (Pillow's own conversion clips
it to white); an animated image gives its first frame. Images smaller than ``MIN_SIDE`` or with
more than ``max_pixels()`` pixels are refused with an error naming them, before they are decoded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MIN_SIDE = 8
DEFAULT_MAX_PIXELS = 40_000_000  # a 40-megapixel photo; raise it with IPA_MAX_IMAGE_PIXELS


class ImageInputError(ValueError):
    """An input that is not a usable image; the message names it."""


def max_pixels() -> int:
    return int(os.environ.get("IPA_MAX_IMAGE_PIXELS", DEFAULT_MAX_PIXELS))


def check_size(image: Image.Image, label: str) -> None:
    """Refuse tiny images and decompression bombs from the header alone."""
    width, height = image.size
    if min(width, height) < MIN_SIDE:
        raise ImageInputError(f"{label}: the image is {width}x{height}; it must be at least {MIN_SIDE}x{MIN_SIDE}")
    if width * height > max_pixels():
        raise ImageInputError(
            f"{label}: the image is {width}x{height} ({width * height / 1e6:.3g} megapixels); "
            f"at most {max_pixels() / 1e6:.3g} megapixels are accepted"
        )


def _sixteen_bit_to_l(image: Image.Image) -> Image.Image:
    values = np.asarray(image, dtype=np.float64)
    top = 65535.0 if values.max() > 255 or image.mode.startswith("I;16") else 255.0
    return Image.fromarray(np.clip(np.round(values / top * 255.0), 0, 255).astype(np.uint8), mode="L")


def to_rgb(image: Image.Image) -> Image.Image:
    """Upright, opaque, 8-bit RGB."""
    image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I"):
        image = _sixteen_bit_to_l(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_image(source: Path | IO[bytes], label: str) -> Image.Image:
    """Open, check and convert an image file; every failure is an ``ImageInputError`` naming ``label``."""
    name = source if isinstance(source, Path) else "the upload"
    try:
        with Image.open(source) as image:
            check_size(image, label)
            image.seek(0)  # animated formats: the first frame
            image.load()
            return to_rgb(image)
    except ImageInputError:
        raise
    except FileNotFoundError:
        raise ImageInputError(f"{label}: no such file {name}") from None
    except Image.DecompressionBombError:
        raise ImageInputError(f"{label}: {name} is too large to decode safely (a decompression bomb?)") from None
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ImageInputError(f"{label}: {name} cannot be read as an image ({error})") from None
