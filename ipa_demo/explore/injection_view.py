"""Injection maps as a picture: the stages going into the UNet on top, those coming out below with
their total over the output image (two rows, so that a phone still shows tiles, not a strip)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..architecture import KNOWN, Architecture
from ..architecture.layers import DEFAULT_ARCHITECTURE
from .grid import heat_map, labelled_grid

TILE = 128  # pixels on the long side of each tile


def stage_maps(
    maps: list[np.ndarray], index: int, architecture: Architecture = DEFAULT_ARCHITECTURE
) -> dict[str, np.ndarray]:
    """Each stage's mean over its layers, for image ``index`` (stages differ in resolution)."""
    return {
        stage.name: np.mean([maps[layer][index] for layer in stage.modules], axis=0) for stage in architecture.stages
    }


def _resized(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    image = Image.fromarray(values.astype(np.float32), mode="F").resize(size, Image.Resampling.BILINEAR)
    return np.asarray(image)


def maps_architecture(maps: list[np.ndarray]) -> Architecture:
    """The model the maps were measured on: one map per attention module, and no two models have as many."""
    return next((known for known in KNOWN if len(known.modules) == len(maps)), DEFAULT_ARCHITECTURE)


def injection_picture(
    maps: list[np.ndarray], image: Image.Image, index: int, architecture: Architecture | None = None
) -> Image.Image:
    architecture = architecture or maps_architecture(maps)
    scale = image.width / image.height
    size = (TILE, max(1, round(TILE / scale))) if scale >= 1 else (max(1, round(TILE * scale)), TILE)
    measured = stage_maps(maps, index, architecture)
    going_in = [stage.name for stage in architecture.stages if stage.direction != "up"]  # down…, mid
    coming_out = [stage.name for stage in architecture.stages if stage.direction == "up"]
    stages = {stage: _resized(values, size) for stage, values in measured.items()}
    peak = max(float(values.max()) for values in stages.values())
    tiles = {stage: heat_map(values, peak) for stage, values in stages.items()}
    labels = {stage: f"{stage} {values.shape[1]}x{values.shape[0]}" for stage, values in measured.items()}
    total = sum(stages.values())
    overlay = Image.blend(image.convert("RGB").resize(size), heat_map(total, float(total.max())), 0.6)
    bottom_labels = [labels[stage] for stage in coming_out] + ["all, over the image"]
    rows = [
        labelled_grid([[tiles[stage] for stage in going_in]], [labels[stage] for stage in going_in], [""]),
        labelled_grid([[*(tiles[stage] for stage in coming_out), overlay]], bottom_labels, [""]),
    ]
    picture = Image.new("RGB", (max(row.width for row in rows), sum(row.height for row in rows)), "white")
    picture.paste(rows[0], (0, 0))
    picture.paste(rows[1], (0, rows[0].height))
    return picture
