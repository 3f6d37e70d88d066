"""The app's image editors: layers arrive as uploads only, and are decoded only within the request budget.

Gradio's ImageEditor has two ways in besides the uploads its page makes. ``accept_blobs``, a server
function reachable by anyone at ``POST /gradio_api/component_server``, keeps each blob it is sent in
memory under a caller's id, with no bound on the layer index (index 50,000,000 allocates a 400 MB
list) and no expiry; only a "realtime" editor's page uses it, and ours are not. Here it is no server
function any more (the route answers 404), so nothing can be stored there.

And an editor's value names a background, any number of layers and a composite, which Gradio's
preprocessing opens, converts and (for ``type="filepath"``) re-encodes before any validator or
handler sees them. Here, first: the files are counted, each header is read and checked as every input
image is (``images.read_size``), and the lot must fit the request's budget (``input_budget``);
refusals name the editor. Only then does Gradio decode them, in the process's one decoding slot.

The wrapping is per instance, as in ``components``; Gradio would replace an instance only if an event
sent the editor a property update (a ``gr.update``), which none of this app's does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gradio as gr

from ..images import ImageInputError, read_size
from ..input_budget import ImageHeader, check_budget, decode_slot
from ..settings import Limits, SettingsError
from .errors import user_error

BLOBS = "accept_blobs"


def _no_blobs(*args: Any, **kwargs: Any) -> None:  # noqa: ARG001 (never a server function: not reachable)
    raise RuntimeError("this editor takes its layers as uploads")


def _part(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else getattr(value, key, None)


def editor_files(payload: Any) -> list[str]:
    """The paths of the files an editor's value names: background, layers, composite."""
    if payload is None or _part(payload, "id") is not None:  # an id: Gradio reads the (closed) blob store
        return []
    files = [_part(payload, "background"), *(_part(payload, "layers") or ()), _part(payload, "composite")]
    return [str(_part(file, "path")) for file in files if file is not None]


def check_editor(payload: Any, name: str, limits: Limits) -> None:
    """Refuse an editor value that does not fit the request budget, from its file count and headers."""
    files = editor_files(payload)
    if len(files) > limits.max_input_images:
        raise user_error(
            f"{name}: the editor sent {len(files)} images (background, layers and composite); "
            f"at most {limits.max_input_images} input images per request on this server"
        )
    headers = []
    for path in files:
        try:
            headers.append(ImageHeader(name, *read_size(Path(path), name)))
        except ImageInputError as error:
            raise user_error(str(error).replace(path, Path(path).name)) from None
    try:
        check_budget(headers, limits)
    except SettingsError as error:
        raise user_error(f"{name}: {error.reason}") from None


def uploads_only(editor: gr.ImageEditor, name: str, limits: Limits) -> gr.ImageEditor:
    """Close ``editor``'s blob store and check its value against ``limits`` before Gradio decodes it."""
    editor.accept_blobs = _no_blobs  # type: ignore[method-assign]
    editor.server_fns = [fn for fn in editor.server_fns if fn.__name__ != BLOBS]
    editor.blob_storage.clear()
    strict = editor.preprocess

    def preprocess(payload: Any) -> Any:
        check_editor(payload, name, limits)
        with decode_slot():
            return strict(payload)

    editor.preprocess = preprocess  # type: ignore[method-assign]
    return editor


def guard_editors(demo: gr.Blocks, names: dict[int, str], limits: Limits) -> None:
    """Every ImageEditor in ``demo`` takes uploads only, checked against ``limits``; ``names`` as the file gate's."""
    for block in demo.blocks.values():
        if isinstance(block, gr.ImageEditor):
            uploads_only(block, names.get(block._id) or block.label or "the image editor", limits)
