"""The one gate for every file a request names: it must lie in Gradio's upload folder.

Gradio checks a file input against its upload folder only when the payload carries
``"meta": {"_type": "gradio.FileData"}``; a bare ``{"path": "/anywhere"}`` reaches the component's
own preprocessing, which opens it, and an event that hands the path back makes Gradio copy the
file into its cache and serve it. So every input component of every event, public or private, is
wrapped: before Gradio's preprocessing runs, each path the payload names must resolve (symlinks
followed) inside the upload folder. That folder holds what callers uploaded and the copies of the
outputs the app returned, all of which Gradio serves by URL anyway, so the gate opens nothing that
was not already public. Anything else is refused with one message, whether or not it exists, and
before anything touches the file system.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

from .errors import user_error

_GATED = "_ipa_demo_file_gate"


def refusal(name: str) -> str:
    return f"{name}: only files uploaded to this app, or images it made, can be used."


def is_uploaded(path: str) -> bool:
    """Whether ``path`` lies inside Gradio's upload folder (decided from the text alone)."""
    folder = os.path.realpath(get_upload_folder())
    return os.path.commonpath([folder, os.path.realpath(path)]) == folder


def _named_paths(payload: Any, file_like: bool) -> Iterator[str]:
    """Every path a payload names: ``{"path": ...}`` at any depth, or the payload itself for file inputs."""
    if hasattr(payload, "model_dump"):
        payload = payload.model_dump()
    if isinstance(payload, str):
        if file_like:
            yield payload
    elif isinstance(payload, dict):
        if isinstance(payload.get("path"), str):
            yield payload["path"]
        for key, value in payload.items():
            if key != "path":
                yield from _named_paths(value, file_like=False)
    elif isinstance(payload, (list, tuple)):
        for item in payload:
            yield from _named_paths(item, file_like)


def is_file_like(component: gr.components.Component) -> bool:
    return isinstance(component, (gr.Image, gr.Gallery, gr.File, gr.ImageSlider, gr.ImageEditor, gr.UploadButton))


def gate(component: gr.components.Component, name: str) -> None:
    """Wrap ``component``'s preprocessing so that a path outside the upload folder is refused."""
    if getattr(component, _GATED, False):
        return
    inner: Callable[[Any], Any] = component.preprocess
    file_like = is_file_like(component)

    def preprocess(payload: Any) -> Any:
        if any(not is_uploaded(path) for path in _named_paths(payload, file_like)):
            raise user_error(refusal(name))
        return inner(payload)

    component.preprocess = preprocess  # type: ignore[method-assign]
    setattr(component, _GATED, True)


def gate_every_input(demo: gr.Blocks, names: dict[int, str]) -> None:
    """Put every input of every event in ``demo`` behind the gate; ``names`` maps a component id to its name."""
    for block_fn in demo.fns.values():
        for component in block_fn.inputs:
            if isinstance(component, gr.components.Component) and not component.stateful:
                gate(component, names.get(component._id) or component.label or "a file input")
