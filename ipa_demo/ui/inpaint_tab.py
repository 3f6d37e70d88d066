"""The Inpaint tab: a picture to upload and paint a mask on, its mask blur and strength, A1111's
"Masked content" and "Inpaint area" (with the padding of "Only masked"), and its own button.

``wire_inpaint`` gives the button what Generate's has (``feedback``: refusals beside it,
busy while running, the bar with steps) and two more things. The button is greyed in the browser at the
click, by an event with no server round trip: before, it stayed clickable for seconds while the server
read the editor's images for the refusal check. And the bar shows the percentage done.

The events read ``sent``, a hidden copy of the editor that a browser-only step fills once per click
(``editor_copy``: before, a 40-step run uploaded the editor's images 36 times and stalled the page up to
1.6 s). ``/inpaint`` takes the copy under the editor's name, so the API is unchanged. A refusal about the
picture is said in the box beside the button only (the other controls keep their mark).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..inpaint_area import MAX_PADDING
from ..mask_note import DEFAULT_MASK_BLUR, MAX_MASK_BLUR
from ..settings import Limits
from ..zerogpu import gpu_task
from . import components as uc
from .explainer import INPAINT_EDITOR_LABEL as EDITOR_LABEL
from .explainer import INPAINT_INTRO as INTRO
from .components import HELPER
from .controls import Controls, control
from .editor_copy import copy_on_click
from .feedback import QUEUED_HELPER, busy_while_running, enable, error_box, places_of, request_check, scroll_into_view
from .handlers import Handlers, generate_seconds, optional_images
from .inpaint_handler import (
    AREA,
    BLUR,
    CONTENT,
    DEFAULT_CONTENT,
    DEFAULT_PADDING,
    EDITOR,
    INPAINT_OUTPUTS,
    MASKED_CONTENTS,
    ONLY_MASKED,
    PADDING,
    STRENGTH,
    WHOLE_PICTURE,
    Inpainter,
)

DEFAULT_STRENGTH = 0.75  # A1111's denoising strength for img2img and inpainting
# Greys the button at the click, in the browser: a js-only event's returned update sets its props.
BUSY_AT_ONCE = "() => ({__type__: 'update', interactive: false})"


def _editor(**options: Any) -> gr.ImageEditor:
    return gr.ImageEditor(
        label=EDITOR_LABEL, type="filepath", sources=("upload", "clipboard"),
        brush=gr.Brush(colors=["#ffffff"], default_size=24, color_mode="fixed"), eraser=gr.Eraser(default_size=24),
        transforms=(), layers=False, height=300, **options,
    )  # fmt: skip


class InpaintTab:
    """The tab's components; build it inside a ``gr.Tab``."""

    def __init__(self, limits: Limits) -> None:
        gr.Markdown(INTRO, elem_id="inpaint-intro")
        self.editor = _editor(elem_id=EDITOR)
        self.sent = _editor(visible=False)  # what the events read: see the module's note
        with gr.Row():
            self.blur = uc.slider(
                0, MAX_MASK_BLUR, value=DEFAULT_MASK_BLUR, step=1, label="Mask blur",
                info="Softens the painted edge by this many pixels before inpainting (A1111's “Mask blur”).",
                elem_id=BLUR,
            )  # fmt: skip
            self.strength = control(
                "strength", limits, DEFAULT_STRENGTH, elem_id=STRENGTH,
                info="How much of the painted part is redone (1: all of it, as if from nothing).",
            )  # fmt: skip
        with gr.Row():
            self.content = uc.radio(
                list(MASKED_CONTENTS), value=DEFAULT_CONTENT, label="Masked content", elem_id=CONTENT,
                info="What the painted part starts from: the picture (original), a wash of the colours around it "
                "(fill), or noise or grey in place of the picture (latent noise, latent nothing).",
            )  # fmt: skip
            self.area = uc.radio(
                [WHOLE_PICTURE, ONLY_MASKED], value=WHOLE_PICTURE, label="Inpaint area", elem_id=AREA,
                info="Only masked: the part around the painting is cut out, redone at the output size (more "
                "detail) and put back.",
            )  # fmt: skip
            self.padding = uc.slider(
                0, MAX_PADDING, value=DEFAULT_PADDING, step=4, label="Only masked padding, pixels", elem_id=PADDING,
                info="How much of the picture around the painting “Only masked” takes along, for context.",
            )  # fmt: skip
        with gr.Row():
            self.button = gr.Button("Inpaint", variant="primary", elem_id="inpaint-button")
            self.stop = gr.Button("Stop", variant="stop", elem_id="stop-inpaint")
        self.error = error_box("inpaint-error")
        self.gallery = gr.Gallery(
            label="Inpainted (PNG with settings and mask)", format="png", columns=2, height=360, object_fit="contain",
            interactive=False, elem_id="inpaint-gallery",
        )  # fmt: skip
        self.used_seed = gr.Number(label="Seed used", precision=0, interactive=False, visible=False, elem_id="inpaint-seed")
        self.parameters = gr.Textbox(label="Parameters (first image)", lines=3, interactive=False, elem_id="inpaint-parameters")

    @property
    def inputs(self) -> dict[str, Any]:
        return {EDITOR: self.sent, BLUR: self.blur, STRENGTH: self.strength, CONTENT: self.content,
                AREA: self.area, PADDING: self.padding}  # fmt: skip

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.gallery, self.used_seed, self.parameters]

    def input_names(self) -> dict[int, str]:
        """How an error names the tab's inputs (as ``app._input_names`` names the settings')."""
        return {component._id: f"{component.label} ({name})" for name, component in self.inputs.items()}


def wire_inpaint(tab: InpaintTab, handlers: Handlers, controls: Controls, gpu: dict[str, Any]) -> Any:
    """The tab's events, in the order the browser runs them on a click; returns the inpainting event."""
    inputs = {**controls.fields, **tab.inputs}
    places = {**places_of(controls.fields), **places_of(tab.inputs)}
    inpainter = Inpainter(handlers, places)
    tab.button.click(None, js=BUSY_AT_ONCE, outputs=tab.button, **HELPER)
    copy_on_click(tab.button, tab.editor, tab.sent)  # before the events that read it
    explain, flags, open_flagged = request_check(inpainter.check, places)
    checking = tab.button.click(explain, inputs_kwargs=inputs, outputs=[tab.error, *flags], **QUEUED_HELPER)
    open_flagged(checking)
    checking.failure(enable, outputs=tab.button, **HELPER)  # refused: the click sends nothing more
    tab.error.change(None, js=scroll_into_view(tab.error), **HELPER)
    inpainting = tab.button.click(
        busy_while_running(gpu_task(generate_seconds)(optional_images(inpainter.inpaint)), INPAINT_OUTPUTS),
        inputs_kwargs=inputs,
        outputs=[*tab.outputs, tab.button],
        show_progress_on=tab.gallery,
        api_name="inpaint",
        validator=inpainter.validate,
        **gpu,
    )
    inpainting.then(enable, outputs=tab.button, **HELPER)
    tab.stop.click(None, cancels=[inpainting])
    tab.gallery.change(lambda images: gr.update(visible=bool(images)), inputs=tab.gallery, outputs=tab.used_seed, **HELPER)
    return inpainting
