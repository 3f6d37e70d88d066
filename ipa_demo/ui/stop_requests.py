"""Stop the engine as soon as a client cancels: the Stop buttons and API clients' ``cancel`` alike.

Both POST Gradio's ``cancel`` route with the client's ``session_hash``. Gradio then cancels the
event's task, but a generator handler can only be closed at its next yield; this middleware also
flips the stop switches of that session's runs (``runner.SWITCHES``), so the engine stops after
the step it is in. It reads the request body (small; larger ones are passed on unread) and hands
the same bytes on to Gradio, which answers the request as usual.
"""

from __future__ import annotations

import json
from typing import Any

from .body_limit import read_body, replaying
from .runner import SWITCHES, StopSwitches

MAX_CANCEL_BODY = 4096  # bytes: {"session_hash": ..., "fn_index": ..., "event_id": ...}


def is_cancel(scope: dict[str, Any]) -> bool:
    return scope["type"] == "http" and scope["method"] == "POST" and scope["path"].rstrip("/").endswith("/cancel")


def session_of(body: bytes) -> str | None:
    try:
        session = json.loads(body).get("session_hash")
    except (ValueError, AttributeError):
        return None
    return session if isinstance(session, str) else None


class StopOnCancel:
    """ASGI middleware: a cancel request also stops the runs of the session it names."""

    def __init__(self, app: Any, switches: StopSwitches = SWITCHES) -> None:
        self.app = app
        self.switches = switches

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not is_cancel(scope):
            await self.app(scope, receive, send)
            return
        messages, body = await read_body(receive, MAX_CANCEL_BODY)
        if body is not None and (session := session_of(body)) is not None:
            self.switches.stop(session)
        await self.app(scope, replaying(messages, receive), send)
