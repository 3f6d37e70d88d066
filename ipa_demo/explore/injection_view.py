"""Injection maps as a picture: the seven stages side by side, then their total over the output image."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..ip_adapter.layers import STAGE_NAMES, STAGES
from ..settings.declarations import STAGE_SIZES
from .grid import heat_map, labelled_grid

TILE = 128  # pixels on the long side of each tile


def stage_maps(maps: list[np.ndarray], index: int) -> dict[str, np.ndarray]:
    """Each stage's mean over its layers, for image ``index`` (stages differ in resolution)."""
    return {stage: np.mean([maps[layer][index] for layer in STAGES[stage]], axis=0) for stage in STAGE_NAMES}


def _resized(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    image = Image.fromarray(values.astype(np.float32), mode="F").resize(size, Image.Resampling.BILINEAR)
    return np.asarray(image)


def injection_picture(maps: list[np.ndarray], image: Image.Image, index: int) -> Image.Image:
    scale = image.width / image.height
    size = (TILE, max(1, round(TILE / scale))) if scale >= 1 else (max(1, round(TILE * scale)), TILE)
    stages = {stage: _resized(values, size) for stage, values in stage_maps(maps, index).items()}
    peak = max(float(values.max()) for values in stages.values())
    tiles = [heat_map(values, peak) for values in stages.values()]
    total = sum(stages.values())
    overlay = Image.blend(image.convert("RGB").resize(size), heat_map(total, float(total.max())), 0.6)
    sides = {stage: STAGE_SIZES[stage].removesuffix("²") for stage in STAGE_NAMES}
    labels = [f"{stage} {sides[stage]}x{sides[stage]}" for stage in STAGE_NAMES] + ["all, over the image"]
    return labelled_grid([[*tiles, overlay]], labels, [""])
