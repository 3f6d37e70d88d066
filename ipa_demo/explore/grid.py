"""Pictures of a sweep: the labelled grid of its cells and maps of how far each cell moved."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from .. import grid_labels

FONT_SIZE = 12
HEADER = 22  # pixels for the column labels above and the row labels to the left (times 6)


def _font() -> grid_labels.Font:
    return grid_labels.label_font(FONT_SIZE)


def _fitted(draw: ImageDraw.ImageDraw, text: str, width: int) -> str:
    """``text`` shortened with an ellipsis to fit ``width`` pixels."""
    font = _font()
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
    left = 6 * HEADER if any(row_labels) or corner else 0
    grid = Image.new("RGB", (left + width * len(column_labels), HEADER + height * len(row_labels)), "white")
    draw = ImageDraw.Draw(grid)
    font = _font()
    if corner:
        draw.text((3, 4), _fitted(draw, corner, left - 6), fill="gray", font=font)
    for column, label in enumerate(column_labels):
        draw.text((left + column * width + 3, 4), _fitted(draw, label, width - 6), fill="black", font=font)
    for row, (label, images) in enumerate(zip(row_labels, tiles, strict=True)):
        top = HEADER + row * height
        draw.text((3, top + height // 2 - 7), _fitted(draw, label, left - 6), fill="black", font=font)
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
