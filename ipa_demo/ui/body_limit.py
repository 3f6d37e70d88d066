"""A size limit on request bodies, checked before the body is kept.

Starlette reads a JSON body whole into memory before Gradio parses it, and neither it nor uvicorn
limits its size: one multi-gigabyte POST to ``/gradio_api/queue/join`` could take the server's
memory. Every request's body here has at most ``max_bytes`` (a request is a prompt, numbers and
file references, a few kilobytes), except uploads, which Gradio streams to disk and limits itself
(``max_file_size``). A larger body is answered 413 once it passes the limit, from its declared
length when it has one, else while it arrives.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.responses import PlainTextResponse

DEFAULT_MAX_BYTES = 1024 * 1024
UPLOAD_SUFFIX = "/upload"  # Gradio's upload route, limited by its own max_file_size


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
        if scope["type"] != "http" or scope["path"].rstrip("/").endswith(UPLOAD_SUFFIX):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large()(scope, receive, send)
            return
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._too_large()(scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body"):
                break

        async def replay() -> Any:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
