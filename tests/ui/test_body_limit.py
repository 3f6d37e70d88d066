"""Request bodies have a size limit, checked before they are kept; uploads keep Gradio's own limit."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from ipa_demo.ui.app import create_app, launch_options
from ipa_demo.ui.body_limit import BodyLimit

from .test_app import served


def through(limit: int, chunks: list[bytes], path: str = "/gradio_api/queue/join", declared: int | None = None):
    """Send one request through ``BodyLimit``: (status sent, bytes the app behind it read)."""
    seen = bytearray()
    statuses: list[int] = []

    async def app(scope, receive, send) -> None:
        while True:
            message = await receive()
            seen.extend(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    received = []

    async def receive() -> dict[str, Any]:
        received.append(1)
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    headers = [(b"content-length", str(declared).encode())] if declared is not None else []
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    asyncio.run(BodyLimit(app, limit)(scope, receive, send))
    return statuses[0], bytes(seen), len(received)


def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    assert through(10, [b"12345", b"67890"]) == (200, b"1234567890", 2)


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    status, seen, reads = through(10, [b"x" * 11], declared=11)
    assert (status, seen, reads) == (413, b"", 0)


def test_a_body_without_a_length_is_refused_once_it_passes_the_limit() -> None:
    status, seen, reads = through(10, [b"x" * 6, b"x" * 6, b"x" * 6])
    assert (status, seen, reads) == (413, b"", 2), "stops reading at the chunk that passes the limit"


def test_uploads_keep_gradios_own_limit() -> None:
    assert through(10, [b"x" * 50], path="/gradio_api/upload")[0] == 200


def test_only_the_upload_route_itself_is_exempt() -> None:
    for path in ("/gradio_api/run/upload", "/gradio_api/call/upload", "/gradio_api/queue/upload", "/upload"):
        assert through(10, [b"x" * 50], path=path)[0] == 413, path


def test_the_served_app_refuses_a_huge_json_body_over_raw_http_and_carries_on() -> None:
    class NoEngine:
        def generate(self, *args: Any, **kwargs: Any) -> None:
            raise AssertionError("not called")

    with served(create_app(NoEngine(), with_examples=False), **launch_options()) as url:
        padding = "x" * (2 * 1024 * 1024)
        body = json.dumps({"data": [padding], "fn_index": 0, "session_hash": "s", "event_data": None})
        refused = httpx.post(f"{url}gradio_api/queue/join",
                             timeout=60, content=body, headers={"content-type": "application/json"})
        assert refused.status_code == 413 and "too large" in refused.text

        def chunks():
            for _ in range(4):
                yield padding.encode()[: 512 * 1024]

        streamed = httpx.post(f"{url}gradio_api/queue/join", timeout=60, content=chunks())  # no content-length: chunked
        assert streamed.status_code == 413
        assert httpx.get(f"{url}config", timeout=60).status_code == 200
