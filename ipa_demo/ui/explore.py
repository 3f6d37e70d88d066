"""The Explore tab: an X/Y sweep over any setting on one seed, with the shared controls as the base.

``/sweep`` takes every parameter of ``/generate`` plus ``x_axis`` and ``y_axis`` (``ip-scale=0,0.5,1``,
``ip-layers=each``, ...). It answers with the labelled grid, the difference maps against λ = 0, a
plot of CLIP-I similarity against the X axis (one line per Y value) and a table of each cell's scores.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr
import pandas as pd

from ..explore.axes import NO_AXIS, Axis, parse_axis
from ..explore.injection_view import injection_picture
from ..explore.sweep import SweepResult, plan, run
from ..settings import SettingsError, check_limits
from ..settings.values import PARAMS, values_from_settings
from .errors import reported_errors
from .handlers import Handlers, follow, gpu_seconds, validation_for
from .runner import run_stoppable

SWEEP_INPUTS = (*PARAMS, "x_axis", "y_axis")
SWEEP_OUTPUTS = 5  # grid, difference maps, plot, table, note
TABLE_HEADERS = ["X", "Y", "similarity to reference", "mean change vs λ=0", "seconds"]
AXIS_HELP = (
    "NAME=V1,V2,...: any setting by its command-line name (ip-scale, ip-start, ip-stage-up1, seed, "
    "controlnet-scale, ...), ip-preset=all,style, or ip-layers=each (each layer alone) / leave-one-out."
)


class ExploreTab:
    """The tab's components, created inside a ``gr.Tab``."""

    def __init__(self) -> None:
        gr.Markdown(
            "Every cell is one image with the settings above, changed along the X (and Y) axis, same seed. "
            "The difference maps show where each image moved from the same settings with IP-Adapter off."
        )
        with gr.Row():
            self.x_axis = gr.Textbox("ip-scale=0,0.5,1", label="X axis", info=AXIS_HELP, elem_id="x_axis")
            self.y_axis = gr.Textbox("ip-preset=all,style,composition", label="Y axis", info="optional", elem_id="y_axis")
        with gr.Row():
            self.button = gr.Button("Sweep", variant="primary", elem_id="sweep-button")
            self.stop = gr.Button("Stop", variant="stop", elem_id="stop-sweep")
        self.grid = gr.Image(label="Grid", type="filepath", format="png", interactive=False, elem_id="sweep-grid")
        self.differences = gr.Image(label="Change against λ = 0", type="filepath", format="png", interactive=False,
                                    elem_id="sweep-differences")  # fmt: skip
        self.plot = gr.LinePlot(x="x", y="similarity", color="y", label="CLIP-I similarity to the reference",
                                elem_id="sweep-plot")  # fmt: skip
        self.table = gr.Dataframe(headers=TABLE_HEADERS, label="Scores", interactive=False, elem_id="sweep-table")
        self.note = gr.Markdown(label="Note", elem_id="sweep-note")
        gr.Markdown(
            "**Injection maps**: for one image with the settings above, how strongly the image prompt acts in "
            "each stage (brighter: more), averaged over the steps, and all stages together over the image."
        )
        self.maps_button = gr.Button("Show injection maps", elem_id="injection-button")
        self.maps = gr.Image(label="Injection maps", type="filepath", format="png", interactive=False,
                             elem_id="injection-maps")  # fmt: skip
        self.maps_note = gr.Markdown(label="Injection note", elem_id="injection-note")

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.grid, self.differences, self.plot, self.table, self.note]


def _axes(x_axis: Any, y_axis: Any) -> tuple[Axis, Axis]:
    for name, text in (("x_axis", x_axis), ("y_axis", y_axis)):
        if text is not None and not isinstance(text, str):
            raise SettingsError(name, "must be text such as ip-scale=0,0.5,1")
    x = parse_axis(x_axis or "", "x_axis")
    y = parse_axis(y_axis, "y_axis") if y_axis and y_axis.strip() else NO_AXIS
    return x, y


class Sweeper:
    """The ``/sweep`` event: validation before the queue, then the cells with progress and Stop."""

    def __init__(self, handlers: Handlers) -> None:
        self.handlers = handlers

    def _cells(self, values: dict[str, Any], seed: int | None = None) -> tuple[Any, Axis, Axis, list[Any]]:
        x, y = _axes(values.pop("x_axis", None), values.pop("y_axis", None))
        limits = self.handlers.limits
        count = len(x.values) * len(y.values)  # before any cell is planned: a long axis costs nothing
        if count > limits.max_sweep_cells:
            raise SettingsError(
                "x_axis", f"{len(x.values)} × {len(y.values)} = {count} cells; this server makes at most "
                f"{limits.max_sweep_cells} in one sweep"
            )  # fmt: skip
        request = self.handlers._parse(values, seed)
        cells = plan(values_from_settings(request.settings), request.settings.seed, x, y,
                     check=lambda settings: check_limits(settings, limits))  # fmt: skip
        return request, x, y, cells

    def validate(self, **values: Any) -> list[dict[str, Any]]:
        try:
            self._cells(dict(values))
        except SettingsError as error:
            target = error.field if error.field in SWEEP_INPUTS else None
            if target in ("x_axis", "y_axis"):
                return [gr.validate(name != target, error.reason if name == target else "") for name in SWEEP_INPUTS]
            return [*validation_for(error), gr.validate(True, ""), gr.validate(True, "")]
        return [gr.validate(True, "") for _ in SWEEP_INPUTS]

    def sweep(
        self,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio swaps in a tracker per call)
        *,
        reference_images: Any = None,
        init_image: str | None = None,
        control_image: str | None = None,
        **values: Any,
    ) -> Iterator[tuple[Any, ...]]:
        values.update(reference_images=reference_images, init_image=init_image, control_image=control_image)
        with reported_errors("sweeping"):
            request, x, y, cells = self._cells(values)
            engine = self.handlers.engine

            def task(on_step: Any) -> SweepResult:
                return run(engine, cells, x, y, request.references, request.init_image, request.control_image,
                           on_step=on_step, differences=True, mask_image=request.mask_image)  # fmt: skip

            result = yield from follow(run_stoppable(task), progress, "Sweeping", SWEEP_OUTPUTS)
            outputs = self._outputs(result, request.settings.seed)
        yield outputs

    def _outputs(self, result: SweepResult, seed: int) -> tuple[Any, ...]:
        store = self.handlers.store
        rows = [
            [item.cell.x_label, item.cell.y_label, _rounded(item.similarity), _rounded(item.mean_difference),
             round(item.seconds, 2)]  # fmt: skip
            for item in result.cells
        ]
        plot = None
        if result.x.parameter is not None and all(item.similarity is not None for item in result.cells):
            plot = pd.DataFrame(
                {"x": [item.cell.value_of(result.x.parameter) for item in result.cells],
                 "similarity": [item.similarity for item in result.cells],
                 "y": [item.cell.y_label or "all cells" for item in result.cells]}  # fmt: skip
            )
        differences = store.save(result.differences, "differences") if result.differences is not None else None
        note = f"Seed {seed} for every cell; {len(result.cells)} cells. Each cell's PNG carries its own settings."
        return store.save(result.grid, "sweep"), differences, plot, rows, note


class InjectionMaps:
    """The ``/injection_maps`` event: one image with the shared settings, and where its image prompt acted."""

    def __init__(self, handlers: Handlers) -> None:
        self.handlers = handlers

    def injection_maps(
        self,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio swaps in a tracker per call)
        *,
        reference_images: Any = None,
        init_image: str | None = None,
        control_image: str | None = None,
        **values: Any,
    ) -> Iterator[Any]:
        values.update(reference_images=reference_images, init_image=init_image, control_image=control_image)
        with reported_errors("making the injection maps"):
            request = self.handlers._parse({**values, "num_images": 1})
            if not request.settings.ip.is_active:
                raise SettingsError("ip_scale", "IP-Adapter is off (λ 0, no layer or an empty window): nothing to map")
            engine = self.handlers.engine
            inpainting = {"mask_image": request.mask_image} if request.mask_image is not None else {}

            def task(on_step: Any) -> Any:
                return engine.generate(request.settings, request.references, request.init_image, request.control_image,
                                       on_step=on_step, injection_maps=True, **inpainting)  # fmt: skip

            result = yield from follow(run_stoppable(task), progress, "Denoising", 2)
            picture = injection_picture(result.injection_maps, result.images[0], 0)
        note = f"Seed {request.settings.seed}, λ {request.settings.ip.scale:g}; the brightest tile is the strongest stage."
        yield self.handlers.store.save(picture, "injection"), note


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _cell_count(values: dict[str, Any]) -> int:
    try:
        x, y = _axes(values.get("x_axis"), values.get("y_axis"))
    except SettingsError:  # the validator has refused it already
        return 1
    return len(x.values) * len(y.values) + 1  # and about one image with IP-Adapter off


sweep_seconds = gpu_seconds(_cell_count)
