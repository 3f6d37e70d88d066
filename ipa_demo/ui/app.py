"""The Gradio app: controls on the left, Generate, Compare and Explore tabs on the right, kept in view
while the settings scroll (on a phone: prompt, references and examples, then the buttons and
results, then the settings; ``layout``).

``create_app(engine)`` builds it around any object with the engine's ``generate``/``compare``, so
tests inject a fake one. Public API: ``/generate`` and ``/compare``, whose keyword arguments are
named after the settings (``fields.PARAMS``); every other event is private. Both GPU events
share one queue slot group (``concurrency_id="gpu"``), and a validator rejects bad input before
the request is queued; beside each button the page says why (``ui_feedback``). ``launch_options``
is how ``app.py`` (and the tests) serve it: upload size limit, no library error text to the page,
theme.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from ..gpu_gate import gated
from ..sdapi.mount import attach
from ..sdapi.options import ApiOptions
from ..sdapi.routes import create_api
from ..settings import Limits, SettingsError
from ..settings.megabytes import megabytes
from ..zerogpu import gpu_task
from .api import accept_plain_files, whole_numbers_only
from .base_model import base_model_architectures, base_model_names
from .controls import HELPER, Controls, build_controls
from .editors import guard_editors
from .examples import add_examples
from .explainer import INTRO
from .explore import SWEEP_OUTPUTS, ExploreTab, InjectionMaps, Sweeper, sweep_seconds
from .feedback import (
    QUEUED_HELPER,
    busy_while_running,
    enable,
    error_box,
    places_of,
    request_check,
    scroll_into_view,
)
from .inpaint_tab import InpaintTab, wire_inpaint
from .handlers import (
    COMPARE_OUTPUTS,
    GENERATE_OUTPUTS,
    EngineLike,
    Handlers,
    compare_seconds,
    generate_seconds,
    optional_images,
)
from .helper_errors import helper_box, said_beside
from .layout import CSS
from .outputs import COMPARISON_HEADERS, OutputStore
from .page_script import PAGE_SCRIPT
from .payloads import guard_every_input
from .server_guard import GuardPolicy, guarded_lifespan, hold_queue_size
from .stop_note import stop_message, stop_note
from .translation import I18N, RUNNING_ON, page_script, translate_page
from .unit_controls import restore_units
from .upload_check import refuse_non_images

TITLE = "ipa_demo — Stable Diffusion 1.5 + IP-Adapter"
GPU_QUEUE = "gpu"
UPLOAD_LIMIT_ENV = "IPA_MAX_UPLOAD_MB"
DEFAULT_UPLOAD_MB = 20.0
# Soft with WCAG 2.1 AA contrast (text ≥ 4.5:1): its hints are neutral-400 on white (2.5:1), its labels
# and accent indigo-500 (3.6:1 on their indigo-100 badge, 4.5:1 under white text). Here hints are
# neutral-600 (7.6:1), labels indigo-700 (6.9:1 on indigo-100) and filled accents indigo-600 (6.3:1
# under white); dark mode keeps Soft's light text, and its accent (no dark variant in the theme) is set
# lighter in the CSS (``layout.CSS``).
THEME = gr.themes.Soft(primary_hue="indigo").set(
    body_text_color_subdued="*neutral_600",
    block_info_text_color="*neutral_600",
    block_label_text_color="*primary_700",
    block_title_text_color="*primary_700",
    color_accent="*primary_600",
    button_primary_background_fill="*primary_600",
    button_primary_background_fill_hover="*primary_700",
    button_primary_background_fill_hover_dark="*primary_700",
    checkbox_label_background_fill_selected="*primary_600",
)


class Outputs:
    """The output components, created inside their tabs; each tab's button, with its error box, on top."""

    def __init__(self, limits: Limits) -> None:
        with gr.Tab("Generate", id="generate"):
            with gr.Row():
                self.generate = gr.Button("Generate", variant="primary", elem_id="generate-button")
                self.stop_generate = gr.Button("Stop", variant="stop", elem_id="stop-generate")
            self.generate_error = error_box("generate-error")
            self.generate_stopped = stop_note("generate-stopped")
            self.gallery = gr.Gallery(
                label="Images (PNG with settings)", format="png", columns=2, height=360, object_fit="contain",
                interactive=False, elem_id="output-gallery",
            )  # fmt: skip
            # Hidden until a run: Gradio 6.31 shows an empty Number as 0, which reads as "seed 0 was used".
            self.used_seed = gr.Number(
                label="Seed used", precision=0, interactive=False, visible=False, elem_id="used-seed"
            )
            with gr.Row():
                self.reuse_seed = gr.Button("Reuse seed", size="sm", elem_id="reuse-seed")
                self.to_reference = gr.Button("Use as reference", size="sm", elem_id="use-as-reference")
                self.to_init = gr.Button("Use as init image", size="sm", elem_id="use-as-init")
                self.to_settings = gr.Button("Load its settings", size="sm", elem_id="load-its-settings")
            self.helper_error = helper_box("helper-error")  # why one of the four buttons above did nothing
            self.slider = gr.ImageSlider(
                label="Before / after: the reference (or init image) against the first output",
                format="png", type="filepath", interactive=False, elem_id="before-after",
            )  # fmt: skip
            self.control_maps = gr.Gallery(
                label="Control maps used",
                format="png",
                columns=2,
                height=180,
                object_fit="contain",
                interactive=False,
                elem_id="control-maps",
            )
            self.parameters = gr.Textbox(
                label="Parameters (first image)", lines=3, interactive=False, elem_id="parameters"
            )
        with gr.Tab("Inpaint", id="inpaint"):
            self.inpaint = InpaintTab(limits)
        with gr.Tab("Compare", id="compare"):
            gr.Markdown(
                "One seed, the same prompt and settings as Generate, the first reference image: reference-only, "
                "img2img and IP-Adapter side by side (and IP-Adapter with ControlNet/T2I when a control image is set)."
            )
            with gr.Row():
                self.compare = gr.Button("Compare", variant="primary", elem_id="compare-button")
                self.stop_compare = gr.Button("Stop", variant="stop", elem_id="stop-compare")
            self.compare_error = error_box("compare-error")
            self.compare_stopped = stop_note("compare-stopped")
            self.compare_gallery = gr.Gallery(
                label="Side by side", format="png", columns=4, height=300, object_fit="contain", interactive=False,
                elem_id="compare-gallery",
            )  # fmt: skip
            self.compare_table = gr.Dataframe(
                headers=COMPARISON_HEADERS, label="Scores and timings", interactive=False, wrap=True,
                column_widths=["46%", "32%", "22%"], elem_id="compare-table",
            )  # fmt: skip
            with gr.Row():
                self.grid = gr.File(label="Grid (PNG)", interactive=False, elem_id="compare-grid")
                self.compare_seed = gr.Number(
                    label="Seed used", precision=0, interactive=False, visible=False, elem_id="compare-seed"
                )
            self.compare_note = gr.Markdown(label="Note", elem_id="compare-note")
        with gr.Tab("Explore", id="explore"):
            self.explore = ExploreTab()

    @property
    def of_generate(self) -> list[gr.components.Component]:
        return [self.gallery, self.used_seed, self.slider, self.control_maps, self.parameters]

    @property
    def of_compare(self) -> list[gr.components.Component]:
        return [self.compare_gallery, self.compare_table, self.grid, self.compare_seed, self.compare_note]


def max_upload_bytes(megabytes_given: float | None = None) -> int:
    """The largest file Gradio accepts, from ``megabytes_given`` or IPA_MAX_UPLOAD_MB (default 20 MB)."""
    return megabytes(UPLOAD_LIMIT_ENV, DEFAULT_UPLOAD_MB, megabytes_given)


def launch_options(max_upload_mb: float | None = None, host: str = "127.0.0.1") -> dict[str, Any]:
    """``demo.launch`` keywords that every server of this app uses, bound to ``host``.

    Gradio refuses larger uploads before they reach a handler. ``show_error`` stays off: our
    handlers raise ``gr.Error`` with a message for everything the user should read (``errors``),
    so whatever else fails inside Gradio reaches the page as a plain "Error", never as exception
    text. No ``allowed_paths``: outputs are copied into Gradio's cache, the only folder (with the
    uploads) it serves files from. The request guard (``server_guard``) checks Host and origin.
    """
    return {
        "theme": THEME,
        "css": CSS,
        "js": page_script(PAGE_SCRIPT),
        "show_error": False,
        "i18n": I18N,
        "max_file_size": max_upload_bytes(max_upload_mb),
        "app_kwargs": {"lifespan": guarded_lifespan(GuardPolicy.for_server(host))},
    }


def create_app(
    engine: EngineLike,
    *,
    limits: Limits | None = None,
    concurrency: int = 1,
    queue_size: int = 16,
    output_dir: Path | None = None,
    with_examples: bool = True,
    max_queued_per_client: int | None = None,
    api: ApiOptions | None = None,
) -> gr.Blocks:
    """The whole app; ``concurrency`` GPU events run at once, ``queue_size`` more may wait, at most
    ``max_queued_per_client`` (default ``IPA_MAX_QUEUED_PER_CLIENT``, 2) of them one client's. ``api``: how
    the A1111 routes are served (default: from the environment); they share the engine's GPU gate."""
    limits = limits or Limits.from_env()
    engine = gated(engine, concurrency)
    handlers = Handlers(engine, OutputStore(output_dir), limits)
    with gr.Blocks(title=TITLE, delete_cache=(3600, 7200)) as demo:
        gr.Markdown(INTRO)
        gr.Markdown(f"{RUNNING_ON} **{getattr(engine, 'description', 'unknown device')}**")
        # In reading (and keyboard) order: what a newcomer fills in, the buttons and results, the
        # settings. On a wide screen the layout's CSS puts the results beside both, kept in view.
        with gr.Row(equal_height=False, elem_id="studio"):
            first = gr.Column(scale=5, min_width=420, elem_id="controls")
            with gr.Column(scale=6, min_width=420, elem_id="results"), gr.Tabs(overflow_behavior="wrap"):  # a phone shows every tab
                outputs = Outputs(limits)
            settings = gr.Column(scale=5, min_width=420, elem_id="settings")
        controls = build_controls(limits, first, settings, base_model_names(engine), base_model_architectures(engine))
        if with_examples:  # after the controls it fills, below the references
            with first:
                add_examples(controls)
        for button in _reading_controls(outputs):  # first: the painted mask into the copy that events read
            controls.send_mask_on(button)
        _wire_feedback(handlers, controls, outputs)  # then: the page sends nothing after a refused request
        _clear_stop_notes(outputs)
        _wire(handlers, controls, outputs, concurrency)
        wire_inpaint(outputs.inpaint, handlers, controls, {"concurrency_id": GPU_QUEUE, "concurrency_limit": concurrency})
        accept_plain_files(controls.fields["reference_images"])
        refuse_non_images(controls.fields, {name: place.label for name, place in places_of(controls.fields).items()})
        whole_numbers_only(controls.fields["seed"])
        names = {**_input_names(controls), **outputs.inpaint.input_names()}
        guard_editors(demo, names, limits)  # before the input guard, which then runs first
        guard_every_input(demo, names)
        translate_page(demo)  # last: every block is on the page
    demo.queue(max_size=queue_size, default_concurrency_limit=concurrency)
    hold_queue_size(demo, max_queued_per_client, gpu_group=GPU_QUEUE)
    _serve_api(demo, engine, limits, api or ApiOptions.from_env(), concurrency + queue_size)
    return demo


def _serve_api(demo: gr.Blocks, engine: EngineLike, limits: Limits, api: ApiOptions, max_jobs: int) -> None:
    if api.enabled:
        routes = create_api(engine, limits, api, max_image_bytes=max_upload_bytes(), max_jobs=max_jobs)
        attach(demo, routes, api.max_body_bytes)


def _reading_controls(outputs: Outputs) -> list[gr.Button]:
    """The buttons whose events read the settings (``controls.fields``)."""
    explore = outputs.explore
    return [outputs.generate, outputs.compare, explore.button, explore.maps_button, outputs.inpaint.button]


def _input_names(controls: Controls) -> dict[int, str]:
    """How an error names each control: its label, and the API parameter behind it (the shown mask editor's
    too, which events do not read but whose uploads are checked)."""
    pairs = [*controls.fields.items(), ("mask_image", controls.shown("mask_image"))]
    return {component._id: f"{component.label} ({name})" for name, component in pairs}


def _wire(handlers: Handlers, controls: Controls, outputs: Outputs, concurrency: int) -> None:
    fields = controls.fields
    gpu: dict[str, Any] = {"concurrency_id": GPU_QUEUE, "concurrency_limit": concurrency}
    generating = outputs.generate.click(
        busy_while_running(gpu_task(generate_seconds)(optional_images(handlers.generate)), GENERATE_OUTPUTS),
        inputs_kwargs=fields,
        outputs=[*outputs.of_generate, outputs.generate],
        show_progress_on=outputs.gallery,
        api_name="generate",
        validator=handlers.validate_generate,
        **gpu,
    )
    comparing = outputs.compare.click(
        busy_while_running(gpu_task(compare_seconds)(optional_images(handlers.compare)), COMPARE_OUTPUTS),
        inputs_kwargs=fields,
        outputs=[*outputs.of_compare, outputs.compare],
        show_progress_on=outputs.compare_gallery,
        api_name="compare",
        validator=handlers.validate_compare,
        **gpu,
    )
    explore, sweeper, mapper = outputs.explore, Sweeper(handlers), InjectionMaps(handlers)
    sweeping = explore.button.click(
        busy_while_running(gpu_task(sweep_seconds)(optional_images(sweeper.sweep)), SWEEP_OUTPUTS),
        inputs_kwargs={**fields, **explore.axes},
        outputs=[*explore.outputs, explore.button],
        show_progress_on=explore.grid,
        api_name="sweep",
        validator=sweeper.validate,
        **gpu,
    )
    mapping = explore.maps_button.click(
        busy_while_running(gpu_task(generate_seconds)(optional_images(mapper.injection_maps)), 2),
        inputs_kwargs=fields,
        outputs=[explore.maps, explore.maps_note, explore.maps_button],
        show_progress_on=explore.maps,
        api_name="injection_maps",
        validator=mapper.validate,
        **gpu,
    )
    # After success, error or Stop alike; a request the validator refused never disabled it.
    for event, button in ((generating, outputs.generate), (comparing, outputs.compare), (sweeping, explore.button),
                          (mapping, explore.maps_button)):  # fmt: skip
        event.then(enable, outputs=button, **HELPER)
    for stop, note, progress in _stop_notes(outputs):
        # Two listeners: the note's is the browser's alone (with the cancel, the server's empty answer cleared it).
        stop.click(None, js=stop_message(progress), outputs=note)
        stop.click(None, cancels=[generating, comparing, sweeping, mapping])

    selected = gr.State(None)
    outputs.gallery.select(handlers.select, outputs=selected, **HELPER)
    outputs.gallery.change(lambda: None, outputs=selected, **HELPER)
    for gallery, seed in ((outputs.gallery, outputs.used_seed), (outputs.compare_gallery, outputs.compare_seed)):
        gallery.change(lambda images: gr.update(visible=bool(images)), inputs=gallery, outputs=seed, **HELPER)
    picked, box = [outputs.gallery, selected], outputs.helper_error
    # New images make a helper's earlier refusal ("Generate an image first") stale.
    outputs.gallery.change(lambda: gr.update(value="", visible=False), outputs=box, **HELPER)
    restored = [*controls.components, controls.png_text, outputs.inpaint.blur]
    for button, handler, inputs, targets in (
        (outputs.reuse_seed, handlers.seed_of_selected, picked, [fields["seed"]]),
        (outputs.to_reference, handlers.use_as_reference, [*picked, fields["reference_images"]],
         [fields["reference_images"]]),
        (outputs.to_init, handlers.use_as_init, picked, [fields["init_image"]]),
    ):  # fmt: skip
        beside = said_beside(handler, str(button.value), len(targets))
        button.click(beside, inputs=inputs, outputs=[*targets, box], **QUEUED_HELPER)
    beside = said_beside(handlers.settings_of_selected, str(outputs.to_settings.value), len(restored))
    restoring = outputs.to_settings.click(beside, inputs=picked, outputs=[*restored, box], **QUEUED_HELPER)
    # The old text goes first: a PNG that cannot be read leaves no other PNG's settings on show.
    loading = controls.png_file.upload(lambda: "", outputs=controls.png_text, **HELPER).then(
        handlers.load_png, inputs=controls.png_file, outputs=restored, **QUEUED_HELPER
    )
    for event in (restoring, loading):
        restore_units(event, controls.unit_sections)


def _stop_notes(outputs: Outputs) -> list[tuple[gr.Button, gr.Markdown, str]]:
    """Each tab's Stop, the note it leaves, and where its progress shows."""
    return [
        (outputs.stop_generate, outputs.generate_stopped, "#output-gallery"),
        (outputs.stop_compare, outputs.compare_stopped, "#compare-gallery"),
        (outputs.explore.stop, outputs.explore.stopped, "#sweep-grid"),
    ]


def _clear_stop_notes(outputs: Outputs) -> None:
    """A new run empties its tab's note. Before the runs' own events: the page sends a click's later
    events only once the run (which has a validator) has ended."""
    starts = (outputs.generate, outputs.compare, outputs.explore.button)
    for start, (_, note, _) in zip(starts, _stop_notes(outputs), strict=True):
        start.click(lambda: "", outputs=note, **HELPER)


def _wire_feedback(handlers: Handlers, controls: Controls, outputs: Outputs) -> None:
    """Beside each button, why the request it sent was refused (the validator marks the control)."""
    fields, explore = controls.fields, outputs.explore
    checks: list[tuple[gr.Button, gr.Markdown, Callable[[dict[str, Any]], SettingsError | None], dict[str, Any]]] = [
        (outputs.generate, outputs.generate_error, lambda values: handlers.check(values, comparing=False),
         fields),
        (outputs.compare, outputs.compare_error, lambda values: handlers.check(values, comparing=True), fields),
        (explore.button, explore.error, Sweeper(handlers).check, {**fields, **explore.axes}),
        (explore.maps_button, explore.maps_error, InjectionMaps(handlers).check, fields),
    ]
    for button, box, check, inputs in checks:
        explain, flags, open_flagged = request_check(check, places_of(inputs))
        open_flagged(button.click(explain, inputs_kwargs=inputs, outputs=[box, *flags], **QUEUED_HELPER))
        box.change(None, js=scroll_into_view(box), **HELPER)  # a button at the screen's edge has it below
