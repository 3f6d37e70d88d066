"""Each input's raw payload, checked before Gradio touches it: what is refused is refused by name, in words.

Gradio's ``Blocks.preprocess_data`` first moves the files a payload names into its cache, then
validates the payload against the component's pydantic model, then calls the component's
``preprocess``. The first two fail with texts that name no input and may show the server's working
directory ("Cannot move /srv/app/data:… to the gradio cache dir because it was not uploaded by a
user", "3 validation errors for EditorData …"); the third with "Could not preprocess input
component at index 28", or, behind a lenient wrapper, not at all: an image sent as a URL alone
arrived as None and the request ran as if it had none. So ``check_payloads`` puts a check in front
of ``preprocess_data`` for every input of every event:

- a file input: every file it names has a path (a URL alone, ``data:`` URLs included, is never
  fetched: it is refused, not dropped), a path holds no NUL and lies in the upload folder
  (``file_gate``); a file without Gradio's ``meta`` gets it; then the payload must fit the
  component's data model;
- a textbox: text or nothing; a list, object or number would become its ``repr`` and be generated.

And behind it, on each component, whatever its own ``preprocess`` raises that is not already a
message for the user becomes one naming the input (``refuse_unreadable``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import gradio as gr
from pydantic import ValidationError

from .errors import log, user_error
from .file_gate import gate_every_input, is_file_like, is_uploaded, refusal

META = {"_type": "gradio.FileData"}
_CHECKED = "_ipa_demo_payload_checked"
OWN_CHECK = "ipa_demo_payload_check"  # an input's own check: (payload, check_file) -> the payload to go on with
SHAPES = {
    "gallery": 'a list of uploaded files ({"path": …, "meta": {"_type": "gradio.FileData"}}) or of '
    '{"image": <file>, "caption": …} items',
    "imageeditor": 'an editor value {"background": <file or null>, "layers": [<file>, …], "composite": <file or null>}',
}
ONE_FILE = 'an uploaded file: {"path": <what /gradio_api/upload answered>, "meta": {"_type": "gradio.FileData"}}'


def _kind(value: Any) -> str:
    return {list: "a list", dict: "an object", bool: "true or false", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _checked_file(file: dict[str, Any], name: str) -> dict[str, Any]:
    path = file.get("path")
    if not isinstance(path, str) or not path:
        if file.get("url"):
            raise user_error(f"{name}: the image came as a URL only; upload the file itself (URLs are not fetched).")
        raise user_error(f"{name}: a file without a path; upload the file first ({ONE_FILE}).")
    if "\x00" in path:
        raise user_error(f"{name}: a file path cannot hold a NUL character.")
    if not is_uploaded(path):
        raise user_error(refusal(name))
    return file if file.get("meta") == META else {**file, "meta": META}


def _with_files_checked(payload: Any, name: str, top: bool) -> Any:
    """``payload`` with each file dict in it checked and given ``meta``; a bare string at the top is a path."""
    if isinstance(payload, str) and top:
        return _checked_file({"path": payload}, name)
    if isinstance(payload, Mapping):
        if "path" in payload or "url" in payload:
            return _checked_file(dict(payload), name)
        return {key: _with_files_checked(value, name, top=False) for key, value in payload.items()}
    if isinstance(payload, list):
        return [_with_files_checked(item, name, top=False) for item in payload]
    return payload


def checked_payload(component: gr.components.Component, name: str, payload: Any, private: bool = False) -> Any:
    """The payload Gradio may go on with, or a ``gr.Error`` naming the input. ``private``: a helper event of
    the page, which has no validator behind it, so its numbers are checked here too."""
    own_check = getattr(component, OWN_CHECK, None)  # a unit parameter: its files, by unit (``unit_payloads``)
    if own_check is not None:
        return own_check(payload, _checked_file)
    if payload is None:
        return None
    if isinstance(component, gr.Textbox):
        if not isinstance(payload, str):
            raise user_error(f"{name}: must be text, got {_kind(payload)}.")
        return payload
    if private and isinstance(component, (gr.Slider, gr.Number)):
        if isinstance(payload, bool) or not isinstance(payload, (int, float)):
            raise user_error(f"{name}: must be a number, got {_kind(payload)}.")
    if is_file_like(component):
        if isinstance(component, gr.Gallery) and isinstance(payload, list):  # plain paths: accept_plain_files
            payload = [_with_files_checked(item, name, top=True) for item in payload]
        else:
            payload = _with_files_checked(payload, name, top=True)
    model = getattr(component, "data_model", None)
    if model is not None:
        try:
            model.model_validate(payload, context={"validate_meta": True})
        except ValidationError:
            shape = SHAPES.get(type(component).__name__.lower(), ONE_FILE if is_file_like(component) else "")
            raise user_error(f"{name}: expected {shape}." if shape else f"{name}: this value has the wrong form.") from None
    return payload


def _failures_named(fn: Callable[..., Any], names: list[str]) -> Callable[..., Any]:
    """A private helper's function whose unexpected failure is a message naming its inputs, not ``{"error": null}``."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception:  # noqa: BLE001 (the values the page never sends: say which inputs, log the rest)
            log.exception("a helper event failed")
            raise user_error(f"{'; '.join(names) or 'This request'}: these values cannot be used here.") from None

    return run


def _is_plain(fn: Any) -> bool:
    return callable(fn) and not any(
        check(fn) for check in (inspect.isgeneratorfunction, inspect.iscoroutinefunction, inspect.isasyncgenfunction)
    )


def refuse_unreadable(component: gr.components.Component, name: str) -> None:
    """Whatever the component's own preprocessing raises reaches the caller as a message naming ``name``."""
    inner: Callable[[Any], Any] = component.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return inner(payload)
        except gr.Error:
            raise
        except Exception:  # noqa: BLE001 (Gradio would say "Could not preprocess input component at index 28")
            raise user_error(f"{name}: this value cannot be read; for an image, upload a PNG, JPEG or WebP file.") from None

    component.preprocess = preprocess  # type: ignore[method-assign]


def check_payloads(demo: gr.Blocks, name_of: Callable[[gr.components.Component], str]) -> None:
    """Check every input of every event of ``demo`` before Gradio's own preprocessing."""
    if getattr(demo, _CHECKED, False):
        return
    inner = demo.preprocess_data

    def checked(component: Any) -> bool:
        return isinstance(component, gr.components.Component) and not component.stateful

    async def preprocess_data(block_fn: Any, inputs: list[Any], state: Any, explicit_call: bool = False) -> Any:
        if len(inputs) == len(block_fn.inputs):
            inputs = list(inputs)
            private = block_fn.api_visibility == "private"
            for index, component in enumerate(block_fn.inputs):
                if checked(component) and index not in block_fn.component_prop_inputs:
                    inputs[index] = checked_payload(component, name_of(component), inputs[index], private)
        return await inner(block_fn, inputs, state, explicit_call)

    for block_fn in demo.fns.values():
        if block_fn.api_visibility == "private" and _is_plain(block_fn.fn):
            block_fn.fn = _failures_named(block_fn.fn, [name_of(each) for each in block_fn.inputs if checked(each)])

    demo.preprocess_data = preprocess_data  # type: ignore[method-assign]
    setattr(demo, _CHECKED, True)


def guard_every_input(demo: gr.Blocks, names: dict[int, str]) -> None:
    """The file gate, these payload checks and named refusals, on every input of every event of ``demo``;
    ``names`` maps a component id to how errors name it (its label and API parameter)."""

    def name_of(component: gr.components.Component) -> str:
        return names.get(component._id) or component.label or "an input"

    for block_fn in demo.fns.values():
        for component in block_fn.inputs:
            if isinstance(component, gr.components.Component) and not component.stateful:
                if not getattr(component, _CHECKED, False):
                    refuse_unreadable(component, name_of(component))
                    setattr(component, _CHECKED, True)
    gate_every_input(demo, names)  # outermost: a path outside the uploads is refused before anything reads it
    check_payloads(demo, name_of)
