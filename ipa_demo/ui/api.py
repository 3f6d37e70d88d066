"""Inputs that take what an API caller naturally sends, and refuse by name what they must not round.

``reference_images=[handle_file("cat.jpg")]`` is what a ``gradio_client`` user writes; Gradio's
gallery wants ``[{"image": handle_file(...), "caption": None}]`` and answers the plain form with a
bare 400 before any handler or validator runs. ``accept_plain_files`` wraps each plain file (a
file dict or a path) into a gallery item first. It opens nothing: the file gate
(``ui_file_gate``) still sees every path, in the gallery's own form, before any preprocessing.

A seed of 1.5 must be an error that names Seed, not quietly 2: ``whole_numbers_only`` hands a
fraction on unrounded, and the validator refuses it with the parameter's name.
The wrapping is per instance, as in ``components``.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from gradio.components.gallery import GalleryData
from pydantic import model_validator


class PlainFilesGalleryData(GalleryData):
    """Gallery data that also takes a list of plain file dicts or paths, one image each."""

    @model_validator(mode="before")
    @classmethod
    def _items_from_plain_files(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [_as_item(item) for item in value]
        return value


def _as_item(item: Any) -> Any:
    if isinstance(item, str):
        return {"image": {"path": item}, "caption": None}
    if isinstance(item, dict) and "path" in item and not {"image", "video"} & item.keys():
        return {"image": item, "caption": None}
    return item


def accept_plain_files(gallery: gr.Gallery) -> gr.Gallery:
    gallery.data_model = PlainFilesGalleryData  # type: ignore[misc]
    return gallery


def whole_numbers_only(number: gr.Number) -> gr.Number:
    rounding = number.preprocess

    def preprocess(payload: float | None) -> float | int | None:
        if isinstance(payload, float) and not payload.is_integer():
            return payload  # the validator says "seed: must be a whole number, got 1.5"
        return rounding(payload)

    number.preprocess = preprocess  # type: ignore[method-assign]
    return number
