"""Pictures of a sweep: the labelled grid of its cells and maps of how far each cell moved."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from .. import grid_labels

FONT_SIZE = 12  # at least; larger tiles get larger labels, so that a grid shrunk to a screen stays legible
MAX_FONT_SIZE = 32
HEADER = 22  # pixels for the column labels above and the row labels to the left (times 6), at FONT_SIZE


def _font_size(tile_width: int) -> int:
    return max(FONT_SIZE, min(MAX_FONT_SIZE, tile_width // 16))


def _fitted(draw: ImageDraw.ImageDraw, text: str, width: int, font: grid_labels.Font) -> str:
    """``text`` shortened with an ellipsis to fit ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def labelled_grid(
    tiles: Sequence[Sequence[Image.Image]], column_labels: Sequence[str], row_labels: Sequence[str], corner: str = ""
) -> Image.Image:
    """Rows of equal-size tiles with their column labels above, row labels to the left, axis names in the corner."""
    width, height = tiles[0][0].size
    size = _font_size(width)
    font = grid_labels.label_font(size)
    header = HEADER * size // FONT_SIZE
    left = 6 * header if any(row_labels) or corner else 0
    grid = Image.new("RGB", (left + width * len(column_labels), header + height * len(row_labels)), "white")
    draw = ImageDraw.Draw(grid)
    pad = size // 4
    if corner:
        draw.text((pad, pad), _fitted(draw, corner, left - 2 * pad, font), fill="gray", font=font)
    for column, label in enumerate(column_labels):
        text = _fitted(draw, label, width - 2 * pad, font)
        draw.text((left + column * width + pad, pad), text, fill="black", font=font)
    for row, (label, images) in enumerate(zip(row_labels, tiles, strict=True)):
        top = header + row * height
        label_top = top + (height - size) // 2
        draw.text((pad, label_top), _fitted(draw, label, left - 2 * pad, font), fill="black", font=font)
        for column, image in enumerate(images):
            grid.paste(image.convert("RGB"), (left + column * width, top))
    return grid


def difference(image: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Per-pixel mean absolute difference of two float images in [0, 1], (h, w)."""
    return np.abs(image.astype(np.float32) - baseline.astype(np.float32)).mean(axis=-1)


def heat_map(values: np.ndarray, scale: float) -> Image.Image:
    """Black (no change) through red and yellow to white (``scale`` or more)."""
    level = np.clip(values / scale, 0.0, 1.0) if scale > 0 else np.zeros_like(values)
    channels = [np.clip(3 * level - offset, 0.0, 1.0) for offset in (0, 1, 2)]
    return Image.fromarray((np.stack(channels, axis=-1) * 255).round().astype(np.uint8))
