"""Injection maps as a picture: the stages going into the UNet on top, those coming out below with
their total over the output image (two rows, so that a phone still shows tiles, not a strip)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..ip_adapter.layers import STAGE_NAMES, STAGES
from .grid import heat_map, labelled_grid

TILE = 128  # pixels on the long side of each tile
GOING_IN, COMING_OUT = STAGE_NAMES[:4], STAGE_NAMES[4:]  # down0..down2 and mid; up1..up3


def stage_maps(maps: list[np.ndarray], index: int) -> dict[str, np.ndarray]:
    """Each stage's mean over its layers, for image ``index`` (stages differ in resolution)."""
    return {stage: np.mean([maps[layer][index] for layer in STAGES[stage]], axis=0) for stage in STAGE_NAMES}


def _resized(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    image = Image.fromarray(values.astype(np.float32), mode="F").resize(size, Image.Resampling.BILINEAR)
    return np.asarray(image)


def injection_picture(maps: list[np.ndarray], image: Image.Image, index: int) -> Image.Image:
    scale = image.width / image.height
    size = (TILE, max(1, round(TILE / scale))) if scale >= 1 else (max(1, round(TILE * scale)), TILE)
    measured = stage_maps(maps, index)
    stages = {stage: _resized(values, size) for stage, values in measured.items()}
    peak = max(float(values.max()) for values in stages.values())
    tiles = {stage: heat_map(values, peak) for stage, values in stages.items()}
    labels = {stage: f"{stage} {values.shape[1]}x{values.shape[0]}" for stage, values in measured.items()}
    total = sum(stages.values())
    overlay = Image.blend(image.convert("RGB").resize(size), heat_map(total, float(total.max())), 0.6)
    coming_out = [labels[stage] for stage in COMING_OUT] + ["all, over the image"]
    rows = [
        labelled_grid([[tiles[stage] for stage in GOING_IN]], [labels[stage] for stage in GOING_IN], [""]),
        labelled_grid([[*(tiles[stage] for stage in COMING_OUT), overlay]], coming_out, [""]),
    ]
    picture = Image.new("RGB", (max(row.width for row in rows), sum(row.height for row in rows)), "white")
    picture.paste(rows[0], (0, 0))
    picture.paste(rows[1], (0, rows[0].height))
    return picture
