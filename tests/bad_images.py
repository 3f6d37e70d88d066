"""The bad-input corpus: files made on the spot, each a trap an upload form meets in the wild."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png() -> bytes:
    """A valid PNG header claiming 30000x30000 pixels, with almost no data behind it."""
    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))


def gradient(width: int, height: int) -> np.ndarray:
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None, None]
    return np.broadcast_to((x + y) / 2, (height, width, 3)).astype(np.uint8)


def noise(width: int, height: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def exif_rotated_jpeg() -> bytes:
    """64x32 pixels stored, with EXIF orientation 6 (rotate 90° on display): upright it is 32x64."""
    image = Image.fromarray(gradient(64, 32))
    exif = Image.Exif()
    exif[0x0112] = 6
    return _encoded(image, "JPEG", exif=exif)


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (32, 32), color) for color in ((255, 0, 0), (0, 0, 255))]
    return _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def sixteen_bit_grey_png() -> bytes:
    values = (np.linspace(0, 65535, 32 * 32).reshape(32, 32)).astype(np.uint16)
    return _encoded(Image.fromarray(values, mode="I;16"), "PNG")


def rgba_png() -> bytes:
    pixels = np.zeros((32, 32, 4), dtype=np.uint8)
    pixels[..., 0] = 200
    pixels[:, :16, 3] = 255  # left half opaque red, right half fully transparent
    return _encoded(Image.fromarray(pixels, mode="RGBA"), "PNG")


def lab_tiff() -> bytes:
    """CIELAB, as image editors write it for print: Pillow must convert it to sRGB, not copy channels."""
    rgb = Image.fromarray(gradient(32, 32))
    to_lab = ImageCms.buildTransform(ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB")
    return _encoded(ImageCms.applyTransform(rgb, to_lab), "TIFF")


def float_tiff() -> bytes:
    return _encoded(Image.fromarray(np.linspace(0.0, 1.0, 32 * 32, dtype=np.float32).reshape(32, 32), mode="F"), "TIFF")


def negative_int_tiff() -> bytes:
    values = np.linspace(-1000, 1000, 32 * 32).astype(np.int32).reshape(32, 32)
    return _encoded(Image.fromarray(values, mode="I"), "TIFF")


GOOD = {
    "cmyk.jpg": lambda: _encoded(Image.fromarray(gradient(32, 32)).convert("CMYK"), "JPEG"),
    "grey16.png": sixteen_bit_grey_png,
    "rgba.png": rgba_png,
    "animated.gif": animated_gif,
    "wide.png": lambda: _encoded(Image.fromarray(gradient(320, 16)), "PNG"),  # 20:1, the widest accepted
    "rotated.jpg": exif_rotated_jpeg,
    "lab.tif": lab_tiff,
}
BAD = {
    "text.png": lambda: b"this is not an image at all\n",
    "truncated.png": lambda: _encoded(Image.fromarray(noise(64, 64)), "PNG")[:2000],
    "tiny.png": lambda: _encoded(Image.new("RGB", (1, 1)), "PNG"),
    "bomb.png": bomb_png,
    "strip.png": lambda: _encoded(Image.fromarray(gradient(4000, 16)), "PNG"),  # 250:1
    "float.tif": float_tiff,
    "negative.tif": negative_int_tiff,
}
# What each refusal says (the rest: "cannot be read as an image").
REASONS = {
    "bomb.png": "too large",
    "tiny.png": "at least 8x8",
    "strip.png": "at most 20 times the other",
    "float.tif": "floating-point images are not supported",
    "negative.tif": "integer images must lie in 0-65535",
}


def write_corpus(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, make in {**GOOD, **BAD}.items():
        paths[name] = folder / name
        paths[name].write_bytes(make())
    return paths
