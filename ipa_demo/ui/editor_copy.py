"""What a click's events read of an image editor: a hidden copy of it, filled once per click in the browser.

Gradio 6.31's page asks an input that has had a loading status (any input of an event that completed)
for its value again on every status message of every event; a shown ``gr.ImageEditor`` answers by reading
its canvas back from WebGL and uploading background, layers and composite anew (hundreds of sets in one
run, the page stalled for seconds). A hidden component is not mounted: the page answers with the value it
holds. So the events take the copy, under the editor's API name, and the API is unchanged. For the same
reason a shown editor is never a server event's output, nor inside one (a server event sets a hidden
editor, then a browser-only step copies it over; ``feedback.request_check`` opens accordions in the page).
The cost: Gradio's validator marks the input it refuses under that input, and the copy is not shown, so a
refusal about the picture is said in the box beside the button only.
"""

from __future__ import annotations

import gradio as gr

from .components import HELPER

# The editor's value (its files uploaded once, by the page's read of it) into the hidden copy.
COPY = "(value) => value"


def copy_on_click(button: gr.Button, editor: gr.ImageEditor, copy: gr.ImageEditor) -> None:
    """Fill ``copy`` from ``editor`` at each click of ``button``, in the browser. Register it before the
    button's other listeners: the page runs a trigger's events in that order, and this one (js only) has
    set the copy before the next gathers its inputs."""
    button.click(None, js=COPY, inputs=editor, outputs=copy, **HELPER)
