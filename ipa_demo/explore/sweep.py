"""A sweep: one generation per cell of an X/Y grid of settings, everything else shared, one seed.

Each cell is ``Engine.generate`` with that cell's settings (one image), so a cell can be made again
alone from its PNG; cells that differ only in IP-Adapter settings and seed share their UNet calls
(``batched``), which changes nothing but float rounding. Scores per cell: CLIP image similarity to the first reference and
the seconds it took; with ``differences`` also how far the image moved from the same cell with
IP-Adapter off (λ = 0), as a heat map and its mean.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ..compare import similarity
from ..loop import StepCallback, steps_to_run, within
from ..settings import GenerationSettings, IPAdapterSettings, SettingsError
from ..settings.values import settings_from_values, values_from_settings
from ..settings.units import NO_UNIT_IMAGES, UnitImages
from .axes import NO_AXIS, Axis, AxisValue
from .unit_axes import with_unit_changes
from .batched import CellImage, can_batch, generate_batch, shared_part
from .grid import difference, heat_map, labelled_grid

if TYPE_CHECKING:
    from ..engine import Engine


BASELINE = "IP-Adapter off, for the change maps"  # what an image of the schedule that is no cell is for


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


def plan(
    values: Mapping[str, Any],
    seed: int,
    x: Axis,
    y: Axis = NO_AXIS,
    check: Callable[[GenerationSettings], None] | None = None,
) -> list[Cell]:
    """Every cell's settings: the shared values with the cell's X and Y changes, one image each.

    ``check`` (a server's limits) sees each cell's settings; what it raises is blamed like a bad value.
    """
    cells = []
    for row, y_value in enumerate(y.values):
        for column, x_value in enumerate(x.values):
            changes = {**y_value.changes, **x_value.changes}
            label = " · ".join(filter(None, (x_value.label, y_value.label)))
            try:
                cell_values = with_unit_changes({**values, "num_images": 1}, changes)
                settings = settings_from_values(cell_values, seed=changes.get("seed", seed))
                if check is not None:
                    check(settings)
            except SettingsError as error:
                raise _in_cell(error, label, ((x, x_value), (y, y_value))) from None
            cells.append(Cell(row, column, x_value.label, y_value.label, settings))
    return cells


def _in_cell(error: SettingsError, label: str, values: Sequence[tuple[Axis, AxisValue]]) -> SettingsError:
    """The error of one cell, blamed on the axis whose value it refuses (else on the shared setting)."""
    for axis, value in values:
        changed = {change.partition(".")[0] for change in value.changes}  # a unit's change: controlnet_unit_2.scale
        if (error.field in value.changes or error.field in changed) and axis.where:
            return SettingsError(axis.where, f"{value.label}: {error.reason}")
    return SettingsError(error.field, f"{error.reason} (in the cell {label})")


def _ip_off(settings: GenerationSettings) -> GenerationSettings:
    return replace(settings, ip=IPAdapterSettings(scale=0.0))


def schedule(cells: Sequence[Cell], differences: bool = False) -> list[tuple[GenerationSettings, str]]:
    """Each image a sweep makes, in order, and what it is for: a cell, or a baseline for the change maps."""
    images: dict[GenerationSettings, str] = {}
    for cell in cells:
        images.setdefault(cell.settings, " · ".join(filter(None, (cell.x_label, cell.y_label))))
    if differences:
        for settings in sorted({_ip_off(cell.settings) for cell in cells}, key=repr):
            images.setdefault(settings, BASELINE)
    return list(images.items())


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
    mask_image: Image.Image | None = None,
    batch_size: int = 1,
    units: UnitImages = NO_UNIT_IMAGES,
) -> SweepResult:
    """Make every cell (and with ``differences`` its λ = 0 twin), ``batch_size`` cells per UNet call
    where they differ only in IP-Adapter settings and seed (``batched``; an inpainting sweep makes
    each alone; so does one with further units, ``units`` their images). ``on_step`` counts cell-steps: a
    batch's step advances each of its cells.
    """
    img2img = init_image is not None
    batches = sweep_batches(cells, differences, batch_size, inpainting=mask_image is not None)
    total = sum(steps_to_run(settings, img2img) for batch in batches for settings, _ in batch)
    images = (references, init_image, control_image)
    done = 0
    made: dict[GenerationSettings, tuple[CellImage, float]] = {}
    for batch in batches:
        jobs = [settings for settings, _ in batch]
        steps, started = steps_to_run(jobs[0], img2img), time.perf_counter()
        if len(jobs) == 1:
            more = {"units": units} if units != NO_UNIT_IMAGES else {}  # an engine without units is called as before
            result = engine.generate(jobs[0], *images, on_step=within(on_step, done, total), mask_image=mask_image, **more)
            outputs = [CellImage(result.images[0], result.pixels[0], result.parameters[0])]
        else:
            outputs = generate_batch(engine, jobs, *images, on_step=within(on_step, done, total, cells=len(jobs)))
        seconds = (time.perf_counter() - started) / len(jobs)  # a batch's time, shared by its cells
        made.update({settings: (output, seconds) for settings, output in zip(jobs, outputs, strict=True)})
        done += steps * len(jobs)
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


def has_units(cells: Sequence[Cell]) -> bool:
    """Whether any cell has further units: such cells are made one by one (a batch carries no units)."""
    return any(cell.settings.more_ip_units or cell.settings.more_controlnet_units or cell.settings.more_t2i_units
               for cell in cells)  # fmt: skip


Job = tuple[GenerationSettings, str]  # an image a sweep makes, and what for (a cell's label, or BASELINE)


def sweep_batches(cells: Sequence[Cell], differences: bool, size: int, inpainting: bool = False) -> list[list[Job]]:
    """The images a sweep makes, in batches of at most ``size`` that share UNet calls, in the order made
    (one image each when it inpaints or has further units: a batch does neither)."""
    size = 1 if inpainting or has_units(cells) else size
    groups: dict[object, list[Job]] = {}
    for index, (settings, what) in enumerate(schedule(cells, differences)):
        key = shared_part(settings) if can_batch(settings) else index
        groups.setdefault(key, []).append((settings, what))
    return [group[start : start + size] for group in groups.values() for start in range(0, len(group), size)]


def progress_label(batches: Sequence[Sequence[Job]], img2img: bool) -> Callable[[tuple[int, int]], str]:
    """The bar's text at a cell-step of the whole sweep: which of its images are being made, and for what."""
    count = sum(len(batch) for batch in batches)
    ends = list(itertools.accumulate(steps_to_run(batch[0][0], img2img) * len(batch) for batch in batches))
    firsts = list(itertools.accumulate((len(batch) for batch in batches), initial=1))

    def label(step: tuple[int, int]) -> str:
        index = min(bisect.bisect_left(ends, step[0]), len(batches) - 1)
        batch, first = batches[index], firsts[index]
        if len(batch) > 1:
            return f"Images {first}–{first + len(batch) - 1} of {count}, {len(batch)} cells at once"
        what = batch[0][1]
        return f"Image {first} of {count}, {what if what == BASELINE else 'cell ' + what}"

    return label


def _layout(images: list[Image.Image], x: Axis, y: Axis) -> Image.Image:
    columns = len(x.values)
    rows = [images[start : start + columns] for start in range(0, len(images), columns)]
    column_labels = [value.label.removeprefix(f"{x.name}=") for value in x.values]
    row_labels = [value.label.removeprefix(f"{y.name}=") for value in y.values]
    return labelled_grid(rows, column_labels, row_labels, corner=f"{y.name} / {x.name}" if y.name else x.name)
