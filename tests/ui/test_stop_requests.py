"""Issue 23, item 10 over raw HTTP: a cancel may name only its own session's events."""

from __future__ import annotations

import json

import httpx

from ipa_demo.settings.values import PARAMS
from ipa_demo.ui.app import create_app, launch_options
from ipa_demo.ui.stop_requests import NOT_YOURS

from .test_app import served
from .test_security import HeldEngine, request
from .test_ui import wait_for


def call(url: str, seed: int) -> str:
    body = json.dumps({"data": [request(seed=seed)[name] for name in PARAMS]})
    response = httpx.post(f"{url}gradio_api/call/generate",
                          timeout=60, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()["event_id"]


def cancel(url: str, session: str, event_id: str) -> httpx.Response:
    return httpx.post(f"{url}gradio_api/cancel",
                      timeout=60, json={"session_hash": session, "fn_index": 0, "event_id": event_id})


def test_another_session_cannot_cancel_an_event_by_its_id() -> None:
    engine = HeldEngine()
    with served(create_app(engine, with_examples=False), **launch_options()) as url:  # type: ignore[arg-type]
        running = call(url, seed=1)
        wait_for(lambda: engine.entered == 1, 30, "the first request to run")
        waiting = call(url, seed=2)  # queued behind it; a /call event's session is its own id
        for event_id in (running, waiting):
            refused = cancel(url, "someone-else", event_id)
            assert refused.status_code == 403 and refused.text == NOT_YOURS
        engine.gate.set()
        for event_id, seed in ((running, 1), (waiting, 2)):
            result = httpx.get(f"{url}gradio_api/call/generate/{event_id}", timeout=30).text
            assert "event: complete" in result and f'"seed {seed}"' in result, result
        assert cancel(url, waiting, waiting).status_code == 200, "the owner may still cancel (a finished event)"
