"""The Gradio app: controls on the left, Generate and Compare tabs on the right.

``create_app(engine)`` builds it around any object with the engine's ``generate``/``compare``, so
tests inject a fake one. Public API: ``/generate`` and ``/compare``, whose keyword arguments are
named after the settings (``fields.PARAMS``); every other event is private. Both GPU events
share one queue slot group (``concurrency_id="gpu"``), and a validator rejects bad input before
the request is queued. ``launch_options`` is how ``app.py`` (and the tests) serve it: upload size
limit, no library error text to the page, theme.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import gradio as gr

from ..settings import Limits, SettingsError
from ..zerogpu import gpu_task
from .controls import HELPER, Controls, build_controls
from .examples import add_examples
from .base_model import add_base_model_picker
from .file_gate import gate_every_input
from .handlers import EngineLike, Handlers, compare_seconds, generate_seconds
from .outputs import COMPARISON_HEADERS, OutputStore
from .server_guard import GuardPolicy, guarded_lifespan, hold_queue_size

TITLE = "ipa_demo — Stable Diffusion 1.5 + IP-Adapter"
GPU_QUEUE = "gpu"
UPLOAD_LIMIT_ENV = "IPA_MAX_UPLOAD_MB"
DEFAULT_UPLOAD_MB = 20.0
MEGABYTE = 1024 * 1024
THEME = gr.themes.Soft(primary_hue="indigo")
CSS = """
#layer-grid .stage-row { align-items: center; gap: 6px; }
#layer-grid .stage-title { flex: 0 0 90px !important; }
#layer-grid .stage-title p { margin: 0; }
#used-seed input { font-weight: 600; }
#compare-gallery .caption-label { white-space: normal; max-width: 92%; }
"""
INTRO = (
    f"## {TITLE}\n"
    "Steer SD1.5 with reference images. λ weighs the image prompt; the grid chooses which of the 16 "
    "cross-attention layers (execution order) get it and with what stage weight. "
    "PNGs carry their settings (A1111 `parameters`)."
)


class Outputs:
    """The output components, created inside their tabs."""

    def __init__(self) -> None:
        with gr.Tab("Generate", id="generate"):
            with gr.Row():
                self.generate = gr.Button("Generate", variant="primary", elem_id="generate-button")
                self.stop_generate = gr.Button("Stop", variant="stop", elem_id="stop-generate")
            self.gallery = gr.Gallery(
                label="Images (PNG with settings)", format="png", columns=2, height=360, object_fit="contain",
                interactive=False, elem_id="output-gallery",
            )  # fmt: skip
            self.used_seed = gr.Number(label="Seed used", precision=0, interactive=False, elem_id="used-seed")
            with gr.Row():
                self.reuse_seed = gr.Button("Reuse seed", size="sm", elem_id="reuse-seed")
                self.to_reference = gr.Button("Use as reference", size="sm", elem_id="use-as-reference")
                self.to_init = gr.Button("Use as init image", size="sm", elem_id="use-as-init")
                self.to_settings = gr.Button("Load its settings", size="sm", elem_id="load-its-settings")
            self.slider = gr.ImageSlider(
                label="Before / after: the reference (or init image) against the first output",
                format="png", type="filepath", interactive=False, elem_id="before-after",
            )  # fmt: skip
            self.control_maps = gr.Gallery(
                label="Control maps used",
                format="png",
                columns=2,
                height=180,
                interactive=False,
                elem_id="control-maps",
            )
            self.parameters = gr.Textbox(
                label="Parameters (first image)", lines=3, interactive=False, elem_id="parameters"
            )
        with gr.Tab("Compare", id="compare"):
            gr.Markdown(
                "One seed, the prompt and settings on the left, the first reference image: reference-only, img2img "
                "and IP-Adapter side by side (and IP-Adapter with ControlNet/T2I when a control image is set)."
            )
            with gr.Row():
                self.compare = gr.Button("Compare", variant="primary", elem_id="compare-button")
                self.stop_compare = gr.Button("Stop", variant="stop", elem_id="stop-compare")
            self.compare_gallery = gr.Gallery(
                label="Side by side", format="png", columns=4, height=300, object_fit="contain", interactive=False,
                elem_id="compare-gallery",
            )  # fmt: skip
            self.compare_table = gr.Dataframe(
                headers=COMPARISON_HEADERS, label="Scores and timings", interactive=False, elem_id="compare-table"
            )
            with gr.Row():
                self.grid = gr.File(label="Grid (PNG)", interactive=False, elem_id="compare-grid")
                self.compare_seed = gr.Number(label="Seed used", precision=0, interactive=False, elem_id="compare-seed")
            self.compare_note = gr.Markdown(elem_id="compare-note")

    @property
    def of_generate(self) -> list[gr.components.Component]:
        return [self.gallery, self.used_seed, self.slider, self.control_maps, self.parameters]

    @property
    def of_compare(self) -> list[gr.components.Component]:
        return [self.compare_gallery, self.compare_table, self.grid, self.compare_seed, self.compare_note]


def max_upload_bytes(megabytes: float | None = None) -> int:
    """The largest file Gradio accepts, from ``megabytes`` or IPA_MAX_UPLOAD_MB (default 20 MB)."""
    if megabytes is None:
        raw = os.environ.get(UPLOAD_LIMIT_ENV, str(DEFAULT_UPLOAD_MB))
        try:
            megabytes = float(raw)
        except ValueError:
            raise SettingsError(UPLOAD_LIMIT_ENV, f"must be a number of megabytes, got {raw!r}") from None
    if not 0 < megabytes < float("inf"):
        raise SettingsError(UPLOAD_LIMIT_ENV, f"must be above 0, got {megabytes!r}")
    return max(1, int(megabytes * MEGABYTE))


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
        "show_error": False,
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
) -> gr.Blocks:
    """The whole app; ``concurrency`` GPU events run at once, ``queue_size`` more may wait."""
    limits = limits or Limits.from_env()
    handlers = Handlers(engine, OutputStore(output_dir), limits)
    with gr.Blocks(title=TITLE, delete_cache=(3600, 7200)) as demo:
        gr.Markdown(f"{INTRO}\n\nRunning on: **{getattr(engine, 'description', 'unknown device')}**")
        picker = add_base_model_picker(engine, {"concurrency_id": GPU_QUEUE, "concurrency_limit": concurrency})
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=420):
                controls = build_controls(limits)
            with gr.Column(scale=6, min_width=420), gr.Tabs():
                outputs = Outputs()
        if with_examples:
            add_examples(controls)
        _wire(handlers, controls, outputs, concurrency)
        if picker is not None:  # a PNG loaded back may have switched the model: show which runs now
            current = lambda: engine.base_model.requested  # noqa: E731
            controls.png_text.change(current, outputs=picker, **HELPER)
        gate_every_input(demo, _input_names(controls))
    demo.queue(max_size=queue_size, default_concurrency_limit=concurrency)
    hold_queue_size(demo)
    return demo


def _input_names(controls: Controls) -> dict[int, str]:
    """How an error names each control: its label, and the API parameter behind it."""
    return {component._id: f"{component.label} ({name})" for name, component in controls.fields.items()}


def _wire(handlers: Handlers, controls: Controls, outputs: Outputs, concurrency: int) -> None:
    fields = controls.fields
    gpu: dict[str, Any] = {"concurrency_id": GPU_QUEUE, "concurrency_limit": concurrency}
    generating = outputs.generate.click(
        gpu_task(generate_seconds)(handlers.generate),
        inputs_kwargs=fields,
        outputs=outputs.of_generate,
        show_progress_on=outputs.gallery,
        api_name="generate",
        validator=handlers.validate_generate,
        **gpu,
    )
    comparing = outputs.compare.click(
        gpu_task(compare_seconds)(handlers.compare),
        inputs_kwargs=fields,
        outputs=outputs.of_compare,
        show_progress_on=outputs.compare_gallery,
        api_name="compare",
        validator=handlers.validate_compare,
        **gpu,
    )
    for stop in (outputs.stop_generate, outputs.stop_compare):
        stop.click(None, cancels=[generating, comparing])

    selected = gr.State(None)
    outputs.gallery.select(handlers.select, outputs=selected, **HELPER)
    outputs.gallery.change(lambda: None, outputs=selected, **HELPER)
    outputs.reuse_seed.click(lambda seed: seed, inputs=outputs.used_seed, outputs=fields["seed"], **HELPER)
    outputs.to_reference.click(
        handlers.use_as_reference,
        inputs=[outputs.gallery, selected, fields["reference_images"]],
        outputs=fields["reference_images"],
        **HELPER,
    )
    outputs.to_init.click(
        handlers.use_as_init, inputs=[outputs.gallery, selected], outputs=fields["init_image"], **HELPER
    )
    restored = [*controls.components, controls.png_text]
    outputs.to_settings.click(
        handlers.settings_of_selected, inputs=[outputs.gallery, selected], outputs=restored, **HELPER
    )
    controls.png_file.upload(handlers.load_png, inputs=controls.png_file, outputs=restored, **HELPER)
