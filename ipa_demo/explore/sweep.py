"""A sweep: one generation per cell of an X/Y grid of settings, everything else shared, one seed.

Each cell is ``Engine.generate`` with that cell's settings (one image), so a cell can be made again
alone from its PNG; cells that differ only in IP-Adapter settings and seed share their UNet calls
(``batched``), which changes nothing but float rounding. Scores per cell: CLIP image similarity to the first reference and
the seconds it took; with ``differences`` also how far the image moved from the same cell with
IP-Adapter off (λ = 0), as a heat map and its mean.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ..compare import similarity
from ..loop import StepCallback, steps_to_run, within
from ..settings import GenerationSettings, IPAdapterSettings, SettingsError
from ..settings.values import settings_from_values, values_from_settings
from .axes import NO_AXIS, Axis
from .batched import CellImage, can_batch, generate_batch, shared_part
from .grid import difference, heat_map, labelled_grid

if TYPE_CHECKING:
    from ..engine import Engine


@dataclass(frozen=True)
class Cell:
    row: int
    column: int
    x_label: str
    y_label: str
    settings: GenerationSettings

    def value_of(self, parameter: str) -> Any:
        return values_from_settings(self.settings)[parameter]


@dataclass(frozen=True)
class CellResult:
    cell: Cell
    image: Image.Image
    pixels: np.ndarray
    parameters: str
    seconds: float
    similarity: float | None  # to the first reference; None without one
    mean_difference: float | None = None  # against the cell with IP-Adapter off


@dataclass(frozen=True)
class SweepResult:
    x: Axis
    y: Axis
    cells: list[CellResult]
    grid: Image.Image
    differences: Image.Image | None  # heat maps laid out like the grid


def plan(values: Mapping[str, Any], seed: int, x: Axis, y: Axis = NO_AXIS) -> list[Cell]:
    """Every cell's settings: the shared values with the cell's X and Y changes, one image each."""
    cells = []
    for row, y_value in enumerate(y.values):
        for column, x_value in enumerate(x.values):
            changes = {**y_value.changes, **x_value.changes}
            cell_values = {**values, **changes, "num_images": 1}
            label = " · ".join(filter(None, (x_value.label, y_value.label)))
            try:
                settings = settings_from_values(cell_values, seed=changes.get("seed", seed))
            except SettingsError as error:
                raise SettingsError(error.field, f"{error.reason} (in the cell {label})") from None
            cells.append(Cell(row, column, x_value.label, y_value.label, settings))
    return cells


def _ip_off(settings: GenerationSettings) -> GenerationSettings:
    return replace(settings, ip=IPAdapterSettings(scale=0.0))


def run(
    engine: Engine,
    cells: Sequence[Cell],
    x: Axis,
    y: Axis = NO_AXIS,
    references: Sequence[Image.Image] = (),
    init_image: Image.Image | None = None,
    control_image: Image.Image | None = None,
    on_step: StepCallback | None = None,
    differences: bool = False,
    batch_size: int = 1,
) -> SweepResult:
    """Make every cell (and with ``differences`` its λ = 0 twin), ``batch_size`` cells per UNet call
    where they differ only in IP-Adapter settings and seed (``batched``). ``on_step`` counts cell-steps.
    """
    img2img = init_image is not None
    baselines = {_ip_off(cell.settings) for cell in cells} if differences else set()
    jobs = list(dict.fromkeys([cell.settings for cell in cells] + sorted(baselines, key=repr)))
    total = sum(steps_to_run(settings, img2img) for settings in jobs)
    done = 0
    made: dict[GenerationSettings, tuple[CellImage, float]] = {}
    images = (references, init_image, control_image)
    for batch in batches(jobs, batch_size):
        steps, started = steps_to_run(batch[0], img2img), time.perf_counter()
        if len(batch) == 1:
            result = engine.generate(batch[0], *images, on_step=within(on_step, done, total))
            outputs = [CellImage(result.images[0], result.pixels[0], result.parameters[0])]
        else:
            outputs = generate_batch(engine, batch, *images, on_step=_cell_steps(on_step, done, total, len(batch)))
        seconds = (time.perf_counter() - started) / len(batch)  # a batch's time, shared by its cells
        made.update({settings: (output, seconds) for settings, output in zip(batch, outputs, strict=True)})
        done += steps * len(batch)
    results = []
    for cell in cells:
        output, seconds = made[cell.settings]
        score = similarity(engine, references[0], output.image) if references else None
        results.append(CellResult(cell, output.image, output.pixels, output.parameters, seconds, score))
    heat = None
    if differences:
        maps = [difference(item.pixels, made[_ip_off(item.cell.settings)][0].pixels) for item in results]
        results = [replace(item, mean_difference=float(change.mean())) for item, change in zip(results, maps)]
        scale = max(float(change.max()) for change in maps)
        heat = _layout([heat_map(change, scale) for change in maps], x, y)
    return SweepResult(x, y, results, _layout([item.image for item in results], x, y), heat)


def batches(jobs: Sequence[GenerationSettings], size: int) -> list[list[GenerationSettings]]:
    """The jobs in batches of at most ``size`` that may share UNet calls, in the jobs' order."""
    groups: dict[object, list[GenerationSettings]] = {}
    for index, settings in enumerate(jobs):
        key = shared_part(settings) if can_batch(settings) else index
        groups.setdefault(key, []).append(settings)
    return [group[start : start + size] for group in groups.values() for start in range(0, len(group), size)]


def _cell_steps(on_step: StepCallback | None, done: int, total: int, cells: int) -> StepCallback | None:
    """A batch's step callback counting cell-steps: each of its steps advances all its cells."""
    if on_step is None:
        return None
    report = on_step
    return lambda step, _steps: report(done + step * cells, total)


def _layout(images: list[Image.Image], x: Axis, y: Axis) -> Image.Image:
    columns = len(x.values)
    rows = [images[start : start + columns] for start in range(0, len(images), columns)]
    column_labels = [value.label.removeprefix(f"{x.name}=") for value in x.values]
    row_labels = [value.label.removeprefix(f"{y.name}=") for value in y.values]
    return labelled_grid(rows, column_labels, row_labels, corner=f"{y.name} / {x.name}" if y.name else x.name)
