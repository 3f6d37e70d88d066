"""A sweep on disk: each cell's PNG (with its own ``parameters``), ``grid.png``, ``differences.png``
and ``sweep.json`` (each cell's settings, file, CLIP-I similarity to the reference, seconds)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

from ..metadata import save_png
from .sweep import SweepResult


MAX_SLUG = 60  # characters of a label kept in a file name: the row and column make it unique; 255 bytes is the limit


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.=]+", "-", text.lower())[:MAX_SLUG].strip("-") or "cell"


def cell_file(row: int, column: int, label: str) -> str:
    return f"{row:02d}-{column:02d}-{_slug(label)}.png"


def write_sweep(result: SweepResult, folder: Path) -> Path:
    cells = []
    for item in result.cells:
        cell = item.cell
        name = cell_file(cell.row, cell.column, " ".join(filter(None, (cell.x_label, cell.y_label))))
        save_png(item.image, folder / name, item.parameters)
        cells.append(
            {"row": cell.row, "column": cell.column, "x": cell.x_label, "y": cell.y_label, "file": name,
             "clip_similarity": item.similarity, "seconds": round(item.seconds, 3),
             "mean_difference": item.mean_difference, "settings": asdict(cell.settings)}  # fmt: skip
        )
    result.grid.save(folder / "grid.png")
    if result.differences is not None:
        result.differences.save(folder / "differences.png")
    summary = {"x": result.x.name, "y": result.y.name or None, "cells": cells}
    path = folder / "sweep.json"
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    return path
