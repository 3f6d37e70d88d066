"""Stop the engine as soon as a client cancels: the Stop buttons and API clients' ``cancel`` alike.

Both POST Gradio's ``cancel`` route with the client's ``session_hash``. Gradio then cancels the
event's task, but a generator handler can only be closed at its next yield; this middleware also
flips the stop switches of that session's runs (``runner.SWITCHES``), so the engine stops after
the step it is in. It reads the request body (small; larger ones are passed on unread) and hands
the same bytes on to Gradio, which answers the request as usual.

Gradio's cancel route takes the event id on its own word: it removes that event from the queue and
closes its generator whatever session the request names. So a cancel whose ``event_id`` belongs to
an event of another session is refused here (403) before Gradio or the switches see it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.responses import PlainTextResponse

from .body_limit import read_body, replaying
from .runner import SWITCHES, StopSwitches

MAX_CANCEL_BODY = 4096  # bytes: {"session_hash": ..., "fn_index": ..., "event_id": ...}
NOT_YOURS = "This run was started by another session: only the session that started it can stop it."
OwnerOf = Callable[[str], str | None]  # an event id -> the session that started it, None when unknown


def is_cancel(scope: dict[str, Any]) -> bool:
    return scope["type"] == "http" and scope["method"] == "POST" and scope["path"].rstrip("/").endswith("/cancel")


def _text_field(body: bytes, name: str) -> str | None:
    try:
        value = json.loads(body).get(name)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def session_of(body: bytes) -> str | None:
    return _text_field(body, "session_hash")


def nobody(event_id: str) -> None:  # noqa: ARG001 (no queue to ask: every event is unknown)
    return None


class StopOnCancel:
    """ASGI middleware: a cancel request also stops the runs of the session it names, and may name only
    its own events (``owner_of`` tells whose an event is)."""

    def __init__(self, app: Any, switches: StopSwitches = SWITCHES, owner_of: OwnerOf = nobody) -> None:
        self.app = app
        self.switches = switches
        self.owner_of = owner_of

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not is_cancel(scope):
            await self.app(scope, receive, send)
            return
        messages, body = await read_body(receive, MAX_CANCEL_BODY)
        if body is not None and (session := session_of(body)) is not None:
            event_id = _text_field(body, "event_id")
            owner = self.owner_of(event_id) if event_id is not None else None
            if owner is not None and owner != session:
                await PlainTextResponse(NOT_YOURS, status_code=403)(scope, receive, send)
                return
            self.switches.stop(session)
        await self.app(scope, replaying(messages, receive), send)
