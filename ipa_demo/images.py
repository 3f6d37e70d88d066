"""Reading user images: any format Pillow reads, turned upright and into plain RGB."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError


class ImageInputError(ValueError):
    """An input that is not a usable image; the message names it."""


def to_rgb(image: Image.Image) -> Image.Image:
    """Apply EXIF orientation and flatten transparency onto white (what a viewer shows)."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_image(path: Path, label: str) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb(image)
    except FileNotFoundError:
        raise ImageInputError(f"{label}: no such file {path}") from None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise ImageInputError(f"{label}: {path} cannot be read as an image ({error})") from None
