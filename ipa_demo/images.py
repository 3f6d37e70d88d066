"""Reading user images: any format Pillow reads, checked for size, turned upright and into plain RGB.

What we accept and how it is converted (never silently refused, never silently mangled):
EXIF orientation is applied; transparency is flattened onto white (what a viewer shows); CMYK and
palette images are converted; 16-bit greyscale is scaled to 8 bits (Pillow's own conversion clips
it to white); CIELAB (TIFF) goes through Pillow's colour conversion; an animated image gives its
first frame. What cannot be converted faithfully is refused: floating-point images (no agreed
range) and 32-bit integer images with values outside 0–65535. Images smaller than ``MIN_SIDE``,
with more than ``max_pixels()`` pixels or a side more than ``max_aspect_ratio()`` times the other
are refused from the header, before they are decoded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MIN_SIDE = 8
DEFAULT_MAX_PIXELS = 40_000_000  # a 40-megapixel photo; raise it with IPA_MAX_IMAGE_PIXELS
# A 20:1 panorama still fits; an 8x5,000,000 strip would make CLIP's resize (short side to 224)
# ask for 94 GB. Raise it with IPA_MAX_ASPECT_RATIO.
DEFAULT_MAX_ASPECT_RATIO = 20
SIXTEEN_BIT_TOP = 65535


class ImageInputError(ValueError):
    """An input that is not a usable image; the message names it."""


class UnconvertibleImageError(ImageInputError):
    """Pixels that 8-bit RGB cannot hold faithfully; the message says why, not which input."""


def max_pixels() -> int:
    return int(os.environ.get("IPA_MAX_IMAGE_PIXELS", DEFAULT_MAX_PIXELS))


def max_aspect_ratio() -> int:
    return int(os.environ.get("IPA_MAX_ASPECT_RATIO", DEFAULT_MAX_ASPECT_RATIO))


def check_size(image: Image.Image, label: str) -> None:
    """Refuse tiny images, strips and decompression bombs from the header alone."""
    width, height = image.size
    if min(width, height) < MIN_SIDE:
        raise ImageInputError(f"{label}: the image is {width}x{height}; it must be at least {MIN_SIDE}x{MIN_SIDE}")
    if width * height > max_pixels():
        raise ImageInputError(
            f"{label}: the image is {width}x{height} ({width * height / 1e6:.3g} megapixels); "
            f"at most {max_pixels() / 1e6:.3g} megapixels are accepted"
        )
    if max(width, height) > max_aspect_ratio() * min(width, height):
        raise ImageInputError(
            f"{label}: the image is {width}x{height}; one side may be at most {max_aspect_ratio()} times the other"
        )


def _integer_to_l(image: Image.Image) -> Image.Image:
    values = np.asarray(image, dtype=np.float64)
    if values.min() < 0 or values.max() > SIXTEEN_BIT_TOP:
        raise UnconvertibleImageError(
            f"its values run from {values.min():g} to {values.max():g}; integer images must lie in 0-{SIXTEEN_BIT_TOP}"
        )
    top = float(SIXTEEN_BIT_TOP) if values.max() > 255 or image.mode.startswith("I;16") else 255.0
    return Image.fromarray(np.clip(np.round(values / top * 255.0), 0, 255).astype(np.uint8), mode="L")


def to_rgb(image: Image.Image) -> Image.Image:
    """Upright, opaque, 8-bit RGB; ``UnconvertibleImageError`` where that would not be faithful."""
    image = ImageOps.exif_transpose(image)
    if image.mode == "F":
        raise UnconvertibleImageError("floating-point images are not supported; save it with 8 or 16 bits per channel")
    if image.mode.startswith("I"):
        image = _integer_to_l(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


@contextmanager
def _opened(source: Path | IO[bytes], label: str) -> Iterator[Image.Image]:
    """The image, its header checked; every failure in the block is an ``ImageInputError`` naming ``label``."""
    name = source if isinstance(source, Path) else "the upload"
    try:
        with Image.open(source) as image:
            check_size(image, label)
            yield image
    except UnconvertibleImageError as error:
        raise ImageInputError(f"{label}: {name} cannot be used: {error}") from None
    except ImageInputError:
        raise
    except FileNotFoundError:
        raise ImageInputError(f"{label}: no such file {name}") from None
    except Image.DecompressionBombError:
        raise ImageInputError(f"{label}: {name} is too large to decode safely (a decompression bomb?)") from None
    except UnidentifiedImageError:  # its text names the stream object (<_io.BytesIO object at 0x...>)
        raise ImageInputError(
            f"{label}: {name} cannot be read as an image (not a format Pillow reads; SVG and other non-raster "
            "files are refused)"
        ) from None
    except (OSError, ValueError) as error:
        raise ImageInputError(f"{label}: {name} cannot be read as an image ({error})") from None


def read_size(source: Path | IO[bytes], label: str) -> tuple[int, int]:
    """An image file's size from its header, checked as ``load_image`` checks it; nothing is decoded."""
    with _opened(source, label) as image:
        return image.size


def load_mask(source: Path | IO[bytes], label: str) -> Image.Image:
    """A region mask, checked as ``load_image`` checks images: grey, white where it acts; transparent
    pixels count as black (a stroke drawn on a transparent layer marks only the stroke)."""
    with _opened(source, label) as image:
        image.seek(0)
        image.load()
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            return Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba).convert("L")
        return to_rgb(image).convert("L")


def load_image(source: Path | IO[bytes], label: str) -> Image.Image:
    """Open, check and convert an image file; every failure is an ``ImageInputError`` naming ``label``."""
    with _opened(source, label) as image:
        image.seek(0)  # animated formats: the first frame
        image.load()
        return to_rgb(image)


def load_painted_layer(source: Path | IO[bytes], label: str) -> Image.Image:
    """A brush layer (transparent where nothing was painted) as a mask: white where painted, else black."""
    with _opened(source, label) as image:
        image.seek(0)
        image.load()
        painted = image.convert("RGBA").getchannel("A").point(lambda alpha: 255 if alpha else 0)
        return painted.convert("RGB")
