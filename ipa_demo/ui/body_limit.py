"""A size limit on request bodies, checked before the body is kept.

Starlette reads a JSON body whole into memory before Gradio parses it, and neither it nor uvicorn
limits its size: one multi-gigabyte POST to ``/gradio_api/queue/join`` could take the server's
memory. Every request's body here has at most ``max_bytes`` (a request is a prompt, numbers and
file references, a few kilobytes), except that of Gradio's upload route, exactly ``UPLOAD_PATH``,
whose files Gradio streams to disk and limits itself (``max_file_size``) and whose other form fields
are capped here while they arrive (``upload_fields``). A larger body is answered 413 once it passes
the limit, from its declared length when it has one, else while it arrives.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.datastructures import Headers
from starlette.formparsers import MultiPartException
from starlette.responses import PlainTextResponse

from .upload_fields import FieldMeter, metered

DEFAULT_MAX_BYTES = 1024 * 1024
# Gradio's upload route, and only it: an event named "upload" (/gradio_api/run/upload) is limited.
UPLOAD_PATH = "/gradio_api/upload"


async def read_body(receive: Any, max_bytes: int) -> tuple[list[dict[str, Any]], bytes | None]:
    """The request's messages as received and its body; None for the body once it passes ``max_bytes``
    (reading stops at the message that passes it)."""
    messages, body = [], b""
    while True:
        message = await receive()
        messages.append(message)
        body += message.get("body", b"")
        if len(body) > max_bytes:
            return messages, None
        if message["type"] != "http.request" or not message.get("more_body"):
            return messages, body


def replaying(messages: list[dict[str, Any]], receive: Any) -> Any:
    """A ``receive`` that gives the messages already read, then the rest of the connection's."""

    async def replay() -> Any:
        return messages.pop(0) if messages else await receive()

    return replay


def is_upload(scope: dict[str, Any]) -> bool:
    """Whether the request is for Gradio's upload route itself."""
    path = scope["path"].removeprefix(scope.get("root_path") or "").rstrip("/")
    return scope["method"] == "POST" and path == UPLOAD_PATH


def max_body_bytes() -> int:
    """The limit: ``IPA_MAX_BODY_KB`` kilobytes when set, else 1 MiB."""
    raw = os.environ.get("IPA_MAX_BODY_KB")
    return int(raw) * 1024 if raw else DEFAULT_MAX_BYTES


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` (uploads excepted)."""

    def __init__(self, app: Any, max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes if max_bytes is not None else max_body_bytes()

    def _too_large(self) -> PlainTextResponse:
        return PlainTextResponse(f"Request body too large: at most {self.max_bytes:,} bytes.", status_code=413)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if is_upload(scope):
            await self._upload(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large()(scope, receive, send)
            return
        messages, body = await read_body(receive, self.max_bytes)
        if body is None:
            await self._too_large()(scope, receive, send)
            return
        await self.app(scope, replaying(messages, receive), send)

    async def _upload(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Pass the upload on, its non-file fields metered; Gradio answers 413 when they pass the cap."""
        content_type = Headers(scope=scope).get("content-type", "")  # the one Gradio reads: the first
        meter = FieldMeter.for_content_type(content_type.encode("latin-1"))
        if meter is None:
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracked(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, metered(receive, meter), send_tracked)
        except MultiPartException as error:  # only if Gradio stops catching its own exception
            if started:
                raise
            await PlainTextResponse(error.message, status_code=413)(scope, receive, send)
