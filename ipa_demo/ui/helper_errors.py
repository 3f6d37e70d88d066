"""A helper button's refusal said beside the button, naming it, as well as in a toast.

A toast fades and sits far from the button; an unqueued event's error (such as "Add the drawing as the
next mask" with nothing drawn) Gradio 6.31 never shows at all. ``said_beside`` wraps a helper's handler:
its outputs gain the box under the button, emptied when the helper succeeds; when it raises ``gr.Error``
the box says "<button>: <why>" and the error is raised again for the toast, so the event must be queued
(``QUEUED``). ``said_beside_only`` is for an unqueued helper: the box alone.
In a browser that asks for Chinese, the box and toast are in Chinese (``translation``).
"""

from __future__ import annotations

import functools
import html
import inspect
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from .feedback import QUEUED_HELPER, error_box
from .translation import label_in, localized, wants_chinese

QUEUED = QUEUED_HELPER


def _beside(message: str) -> dict[str, Any]:
    return gr.update(value=f"**{html.escape(message)}**", visible=True)


def _named(error: gr.Error, button: str, request: gr.Request | None) -> str:
    chinese = wants_chinese(request)
    reason = localized(html.unescape(str(error.message)), chinese)
    return f"{label_in(button, chinese)}{'：' if chinese else ': '}{reason}"


def _takes_request(handler: Callable[..., Any]) -> bool:
    return "gradio_request" in inspect.signature(handler).parameters


def _split(handler: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], Any]:
    """The handler's own inputs, and the request Gradio put after them (or a caller named); a handler that
    takes the request itself gets it back in ``kwargs``."""
    count = len([name for name in inspect.signature(handler).parameters if name != "gradio_request"])
    request = kwargs.pop("gradio_request", None)
    if len(args) > count:
        args, request = args[:count], args[count]
    if _takes_request(handler):
        kwargs["gradio_request"] = request
    return args, request


def _with_request(run: Callable[..., Any], handler: Callable[..., Any]) -> None:
    """``run`` takes ``handler``'s inputs, then the request: Gradio reads both from the signature and passes
    the request in its place, by position."""
    signature = inspect.signature(handler)
    own = [parameter for name, parameter in signature.parameters.items() if name != "gradio_request"]
    request = inspect.Parameter(
        "gradio_request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request
    )
    run.__signature__ = signature.replace(parameters=[*own, request])  # type: ignore[attr-defined]
    # functools.wraps copied the handler's annotations, which Gradio reads to find the request parameter.
    run.__annotations__ = {**getattr(handler, "__annotations__", {}), "gradio_request": gr.Request}


def said_beside(handler: Callable[..., Any], button: str, width: int) -> Callable[..., Iterator[Any]]:
    """``handler`` (``width`` outputs) with one more output, the box beside the button named ``button``;
    its refusal also as a toast (the event must be queued: ``QUEUED``)."""

    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Iterator[Any]:
        args, gradio_request = _split(handler, args, kwargs)
        try:
            result = handler(*args, **kwargs)
        except gr.Error as error:
            message = _named(error, button, gradio_request)
            yield (*(gr.skip() for _ in range(width)), _beside(message))
            raise gr.Error(html.escape(message, quote=False), print_exception=False) from None
        yield (*(result if width > 1 else (result,)), gr.update(value="", visible=False))

    _with_request(run, handler)
    return run


def said_beside_only(handler: Callable[..., Any], button: str, width: int) -> Callable[..., tuple[Any, ...]]:
    """As ``said_beside`` for an unqueued event, whose errors Gradio 6.31 never shows: the refusal is
    answered, not raised, so the box beside the button is where it is read."""

    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> tuple[Any, ...]:
        args, gradio_request = _split(handler, args, kwargs)
        try:
            result = handler(*args, **kwargs)
        except gr.Error as error:
            return (*(gr.skip() for _ in range(width)), _beside(_named(error, button, gradio_request)))
        return (*(result if width > 1 else (result,)), gr.update(value="", visible=False))

    _with_request(run, handler)
    return run


def helper_box(elem_id: str) -> gr.Markdown:
    """The hidden box under a row of helper buttons."""
    return error_box(elem_id)
