"""PNG files that carry their settings: the A1111 ``parameters`` text chunk (see ``settings.parameters``)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo


def save_png(image: Image.Image, path: Path, parameters: str) -> Path:
    info = PngInfo()
    info.add_text("parameters", parameters)
    image.save(path, pnginfo=info)
    return path


def read_png_parameters(path: Path) -> str | None:
    with Image.open(path) as image:
        return image.info.get("parameters")
