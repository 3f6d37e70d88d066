"""Refuse a file that is not an image when it is uploaded, not when Generate is pressed.

Gradio shows a .txt renamed .png as a blank thumbnail and the request failed only at Generate,
far from the control. Each image input (a single image or a gallery) checks every upload at once:
its header must read as an image within the size limits (``images.read_size``: nothing is
decoded). What fails is taken out of the control and the error names the control and the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import gradio as gr

from ..images import ImageInputError, read_size
from .errors import user_error
from .feedback import QUEUED_HELPER


def _path_of(item: Any) -> str | None:
    """The file of a gallery item ((path, caption) or path) or of an image value."""
    if isinstance(item, (tuple, list)):
        item = item[0] if item else None
    if isinstance(item, dict):
        item = item.get("path")
    return item if isinstance(item, str) else None


def _problem(path: str | None, label: str) -> str | None:
    if path is None:
        return None
    try:
        read_size(Path(path), label)
    except ImageInputError as error:
        return str(error).replace(path, Path(path).name)
    return None


def image_check(label: str, *, gallery: bool) -> Any:
    """The upload event function of one image input called ``label``."""

    def check(value: Any) -> Iterator[Any]:
        items = list(value or []) if gallery else [value]
        problems = [problem for item in items if (problem := _problem(_path_of(item), label))]
        if not problems:
            yield gr.skip()
            return
        kept = [item for item in items if _problem(_path_of(item), label) is None]
        yield kept if gallery else None  # the refused file leaves the control
        raise user_error(" ".join(problems))

    return check


def refuse_non_images(fields: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    """Check every upload to the image and gallery inputs among ``fields`` (API name -> component)."""
    for name, component in fields.items():
        if isinstance(component, (gr.Image, gr.Gallery)) and component.interactive is not False:
            check = image_check(labels.get(name, name), gallery=isinstance(component, gr.Gallery))
            component.upload(check, inputs=component, outputs=component, **QUEUED_HELPER)
