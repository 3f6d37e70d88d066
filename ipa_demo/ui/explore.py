"""The Explore tab: an X/Y sweep over any setting on one seed, with the shared controls as the base.

``/sweep`` takes every parameter of ``/generate`` plus ``x_axis`` and ``y_axis`` (``ip-scale=0,0.5,1``,
``ip-layers=each``, ...). It answers with the labelled grid, the difference maps against λ = 0, a
plot of CLIP-I similarity against the X axis (one line per Y value) and a table of each cell's scores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr
import pandas as pd

from ..architecture import Architecture
from ..architecture.layers import DEFAULT_ARCHITECTURE
from ..explore.axes import NO_AXIS, Axis, parse_axis
from ..explore.injection_view import injection_picture
from ..explore.report import write_sweep
from ..explore.sweep import SweepResult, plan, progress_label, run, sweep_batches
from ..settings import GenerationSettings, SettingsError, check_inputs, check_limits
from ..settings.units import check_unit_images
from ..settings.values import PARAMS, values_from_settings
from .axis_picker import axis_picker
from .base_model import base_model_architecture, check_base_model
from .errors import log, reported_errors
from .feedback import error_box
from .fields import Request
from .stop_note import stop_note
from .translation import localized_reason, wants_chinese
from .handlers import Handlers, follow, gpu_seconds, validation_for

SWEEP_INPUTS = (*PARAMS, "x_axis", "y_axis")
SWEEP_OUTPUTS = 6  # grid, difference maps, plot, table, note, the cells' files
INTRO = (
    "Every cell is one image made with the same settings as Generate (prompt, references, λ, layers, "
    "sampling: the panel beside this one, below it on a phone), changed only along the X axis (and the Y "
    "axis), all on one seed. The change maps show where each image moved from the same settings with "
    "IP-Adapter off (black: not at all, white: the most)."
)
INJECTION_NOTE = (
    "**Injection maps**: for one image with the same settings, how strongly the image prompt acts in "
    "each stage of the UNet (brighter: more), averaged over the steps, and all stages together over the image."
)


class ExploreTab:
    """The tab's components, created inside a ``gr.Tab``."""

    def __init__(self) -> None:
        gr.Markdown(INTRO)
        with gr.Row():  # side by side on a wide screen, one above the other on a phone
            self.x_axis = axis_picker("X axis", "ip-scale=0,0.5,1", "x_axis").text
            self.y_axis = axis_picker("Y axis", "ip-preset=all,style,composition", "y_axis", optional=True).text
        with gr.Row():
            self.button = gr.Button("Sweep", variant="primary", elem_id="sweep-button")
            self.stop = gr.Button("Stop", variant="stop", elem_id="stop-sweep")
        self.error = error_box("sweep-error")
        self.stopped = stop_note("sweep-stopped")
        self.grid = gr.Image(label="Grid", type="filepath", format="png", interactive=False, elem_id="sweep-grid")
        self.differences = gr.Image(
            label="Change against λ = 0", type="filepath", format="png",
            interactive=False, elem_id="sweep-differences",
        )  # fmt: skip
        self.plot = gr.LinePlot(
            x="x", y="similarity", color="y", y_title="CLIP-I similarity",
            label="CLIP-I similarity to the reference (higher: closer to it)", elem_id="sweep-plot",
        )  # fmt: skip
        self.table = gr.Dataframe(
            headers=_headers(NO_AXIS, NO_AXIS), interactive=False, wrap=True,
            label="Scores (CLIP-I: similarity to the reference; change: mean per pixel against λ = 0)",
            column_widths=["18%", "22%", "20%", "22%", "18%"], elem_id="sweep-table",
        )  # fmt: skip
        self.note = gr.Markdown(label="Note", elem_id="sweep-note")
        self.files = gr.File(label="Every cell as a PNG with its settings, the grid and sweep.json (zip)",
                             interactive=False, elem_id="sweep-files")  # fmt: skip
        gr.Markdown(INJECTION_NOTE)
        self.maps_button = gr.Button("Show injection maps", elem_id="injection-button")
        self.maps_error = error_box("injection-error")
        self.maps = gr.Image(label="Injection maps", type="filepath", format="png", interactive=False,
                             elem_id="injection-maps")  # fmt: skip
        self.maps_note = gr.Markdown(label="Note", elem_id="injection-note")

    @property
    def axes(self) -> dict[str, gr.components.Component]:
        return {"x_axis": self.x_axis, "y_axis": self.y_axis}

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.grid, self.differences, self.plot, self.table, self.note, self.files]


def _headers(x: Axis, y: Axis) -> list[str]:
    # Short words: a phone gives each column about 50 px, and a word that does not fit is broken mid-word.
    return [f"X: {x.name}" if x.name else "X", f"Y: {y.name}" if y.name else "Y", "CLIP-I", "change vs λ=0",
            "time (s)"]  # fmt: skip


def _axes(x_axis: Any, y_axis: Any, architecture: Architecture = DEFAULT_ARCHITECTURE) -> tuple[Axis, Axis]:
    for name, text in (("x_axis", x_axis), ("y_axis", y_axis)):
        if text is not None and not isinstance(text, str):
            raise SettingsError(name, "must be text such as ip-scale=0,0.5,1")
    x = parse_axis(x_axis or "", "x_axis", architecture)
    y = parse_axis(y_axis, "y_axis", architecture) if y_axis and y_axis.strip() else NO_AXIS
    return x, y


def _checked(check: Callable[[dict[str, Any]], Any], values: dict[str, Any]) -> SettingsError | None:
    """The verdict on a request for the validator and the error box; a bug lets it through to the handler."""
    try:
        check(values)
    except SettingsError as error:
        return error
    except Exception:  # noqa: BLE001 (the handler fails the same way and reports it as a message)
        log.exception("checking a request failed")
    return None


class Sweeper:
    """The ``/sweep`` event: validation before the queue, then the cells with progress and Stop."""

    def __init__(self, handlers: Handlers) -> None:
        self.handlers = handlers

    def _cells(self, values: dict[str, Any], seed: int | None = None) -> tuple[Request, Axis, Axis, list[Any]]:
        architecture = base_model_architecture(self.handlers.engine, values.get("base_model", ""))
        x, y = _axes(values.pop("x_axis", None), values.pop("y_axis", None), architecture)  # the atlas: its modules
        limits = self.handlers.limits
        count = len(x.values) * len(y.values)  # before any cell is planned: a long axis costs nothing
        if count > limits.max_sweep_cells:
            raise SettingsError(
                "x_axis", f"{len(x.values)} × {len(y.values)} = {count} cells; this server makes at most "
                f"{limits.max_sweep_cells} in one sweep"
            )  # fmt: skip
        request = self.handlers.request_from(values, seed)

        def check(settings: GenerationSettings) -> None:  # what parse_request checks of the shared settings
            check_limits(settings, limits)
            check_inputs(settings, request.references, request.init_image, request.control_image)
            check_unit_images(settings, request.units)
            check_base_model(self.handlers.engine, settings.base_model)  # a base-model axis names the server's

        cells = plan(values_from_settings(request.settings), request.settings.seed, x, y, check=check)
        return request, x, y, cells

    def check(self, values: dict[str, Any]) -> SettingsError | None:
        return _checked(self._cells, dict(values))

    def validate(self, gradio_request: gr.Request | None = None, **values: Any) -> list[dict[str, Any]]:
        error, chinese = self.check(values), wants_chinese(gradio_request)
        if error is None:
            return [gr.validate(True, "") for _ in SWEEP_INPUTS]
        if error.field in ("x_axis", "y_axis"):
            reason = localized_reason(error.reason, chinese)
            return [gr.validate(name != error.field, reason if name == error.field else "") for name in SWEEP_INPUTS]
        return [*validation_for(error, chinese), gr.validate(True, ""), gr.validate(True, "")]

    def sweep(
        self,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio swaps in a tracker per call)
        gradio_request: gr.Request | None = None,  # its session's cancel requests stop the run
        **values: Any,
    ) -> Iterator[tuple[Any, ...]]:
        with reported_errors("sweeping"):
            request, x, y, cells = self._cells(values)
            engine, batch_size = self.handlers.engine, self.handlers.limits.max_images

            def task(on_step: Any) -> SweepResult:
                return run(engine, cells, x, y, request.references, request.init_image, request.control_image,
                           on_step=on_step, differences=True, mask_image=request.mask_image,
                           batch_size=batch_size, units=request.units)  # fmt: skip

            batches = sweep_batches(cells, True, batch_size, inpainting=request.mask_image is not None)
            label = progress_label(batches, request.init_image is not None)
            result = yield from follow(task, progress, label, SWEEP_OUTPUTS, gradio_request)
            outputs = self._outputs(result, request.settings.seed)
        yield outputs

    def _outputs(self, result: SweepResult, seed: int) -> tuple[Any, ...]:
        store = self.handlers.store
        rows = [
            [_value(item.cell.x_label, result.x), _value(item.cell.y_label, result.y), _rounded(item.similarity),
             _rounded(item.mean_difference), round(item.seconds, 2)]  # fmt: skip
            for item in result.cells
        ]
        note = f"Seed {seed} for every cell; {len(result.cells)} cells. Each cell's PNG in the zip carries its settings."
        plot = gr.update(value=None, visible=False)
        if result.x.parameter is None:
            note += f" No plot: the X axis ({result.x.name}) does not move a number."
        elif any(item.similarity is None for item in result.cells):
            note += " No plot: there is no reference image to compare with."
        else:
            data = pd.DataFrame(
                {"x": [item.cell.value_of(result.x.parameter) for item in result.cells],
                 "similarity": [item.similarity for item in result.cells],
                 "y": [_value(item.cell.y_label, result.y) or "all cells" for item in result.cells]}  # fmt: skip
            )
            plot = gr.update(value=data, visible=True, x_title=result.x.name, color_title=result.y.name or "cells")
        differences = store.save(result.differences, "differences") if result.differences is not None else None
        table = pd.DataFrame(rows, columns=_headers(result.x, result.y))
        files = store.archive(lambda folder: write_sweep(result, folder), "sweep")
        return store.save(result.grid, "sweep"), differences, plot, table, note, files


class InjectionMaps:
    """The ``/injection_maps`` event: one image with the shared settings, and where its image prompt acted."""

    def __init__(self, handlers: Handlers) -> None:
        self.handlers = handlers

    def _request(self, values: dict[str, Any]) -> Request:
        request = self.handlers.request_from({**values, "num_images": 1})
        if not request.settings.ip.is_active:
            raise SettingsError("ip_scale", "IP-Adapter is off (λ 0, no layer or an empty window): nothing to map")
        return request

    def check(self, values: dict[str, Any]) -> SettingsError | None:
        return _checked(self._request, values)

    def validate(self, gradio_request: gr.Request | None = None, **values: Any) -> list[dict[str, Any]]:
        error = self.check(values)
        return [gr.validate(True, "") for _ in PARAMS] if error is None else validation_for(
            error, wants_chinese(gradio_request)
        )

    def injection_maps(
        self,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio swaps in a tracker per call)
        gradio_request: gr.Request | None = None,  # its session's cancel requests stop the run
        **values: Any,
    ) -> Iterator[Any]:
        with reported_errors("making the injection maps"):
            request = self._request(values)
            engine = self.handlers.engine

            def task(on_step: Any) -> Any:
                return engine.generate(request.settings, request.references, request.init_image, request.control_image,
                                       on_step=on_step, mask_image=request.mask_image, injection_maps=True)  # fmt: skip

            result = yield from follow(task, progress, "Denoising", 2, gradio_request)
            picture = injection_picture(result.injection_maps, result.images[0], 0)
        settings = request.settings
        note = f"Seed {settings.seed}, λ {settings.ip.scale:g}; the brightest tile is the strongest stage."
        yield self.handlers.store.save(picture, "injection"), note


def _value(label: str, axis: Axis) -> str:
    """A cell's value on an axis as the table shows it: the header already names the axis."""
    return label.removeprefix(f"{axis.name}=")


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _cell_count(values: dict[str, Any]) -> int:
    try:
        x, y = _axes(values.get("x_axis"), values.get("y_axis"))
    except SettingsError:  # the validator has refused it already
        return 1
    return len(x.values) * len(y.values) + 1  # and about one image with IP-Adapter off


sweep_seconds = gpu_seconds(_cell_count)
