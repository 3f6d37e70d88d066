"""The engine run behind each GPU event: its steps, its stop switch, and cancel requests reaching it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable

import pytest

from ipa_demo.loop import GenerationCancelled
from ipa_demo.ui.runner import Readout, StopSwitches, run_stoppable
from ipa_demo.ui.stop_requests import MAX_CANCEL_BODY, StopOnCancel


def endless(steps_run: list[int]) -> Callable[[Callable[[int, int], None]], str]:
    def task(on_step: Callable[[int, int], None]) -> str:
        for step in range(1, 1000):
            time.sleep(0.01)
            steps_run.append(step)
            on_step(step, 1000)
        return "finished"

    return task


def test_closing_a_run_stops_the_task_at_its_next_step() -> None:
    steps_run: list[int] = []
    run = run_stoppable(endless(steps_run), heartbeat=0.05)
    assert next(run) is None
    run.close()
    time.sleep(0.2)
    assert 0 < len(steps_run) <= 8, "0.05 s of 0.01 s steps, then at most the step it was in"


def test_stopping_a_session_stops_its_runs_at_once_and_no_other() -> None:
    switches = StopSwitches()
    mine: list[int] = []
    theirs: list[int] = []
    my_run = run_stoppable(endless(mine), session="mine", heartbeat=60, switches=switches)
    their_run = run_stoppable(endless(theirs), session="theirs", heartbeat=60, switches=switches)
    done = {}

    def wait(name: str, run) -> None:
        try:
            next(run)
        except (StopIteration, GenerationCancelled) as ended:
            done[name] = type(ended).__name__

    waiters = [threading.Thread(target=wait, args=item) for item in (("mine", my_run), ("theirs", their_run))]
    for waiter in waiters:
        waiter.start()
    time.sleep(0.1)
    switches.stop("mine")
    waiters[0].join(2)
    assert done == {"mine": "GenerationCancelled"}, "stopped without waiting for a heartbeat"
    stopped_at = len(mine)
    time.sleep(0.1)
    assert len(mine) == stopped_at and len(theirs) > stopped_at + 3, "the other session's run goes on"
    switches.stop("theirs")
    waiters[1].join(2)
    assert done["theirs"] == "GenerationCancelled"


def test_steps_are_reported_from_the_run_and_errors_come_back() -> None:
    reported: list[tuple[int, int]] = []

    def failing(on_step: Callable[[int, int], None]) -> None:
        on_step(1, 2)
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        list(run_stoppable(failing, lambda done, total: reported.append((done, total)), heartbeat=0.01))
    assert reported == [(1, 2)]


def cancel_through(middleware_body: bytes, path: str = "/gradio_api/cancel") -> tuple[list[str], bytes]:
    """Send a request through ``StopOnCancel``; what it stopped, and the body the app behind it read."""
    stopped: list[str] = []
    seen = bytearray()

    class Switches(StopSwitches):
        def stop(self, session: str) -> None:
            stopped.append(session)

    async def app(scope, receive, send) -> None:
        while True:
            message = await receive()
            seen.extend(message.get("body", b""))
            if not message.get("more_body"):
                return

    chunks = [middleware_body[i : i + 1000] for i in range(0, len(middleware_body), 1000)] or [b""]
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive():
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "path": path}
    asyncio.run(StopOnCancel(app, Switches())(scope, receive, None))
    return stopped, bytes(seen)


def test_a_cancel_request_stops_its_session_and_reaches_gradio_unchanged() -> None:
    body = json.dumps({"session_hash": "abc", "fn_index": 3, "event_id": "e1"}).encode()
    assert cancel_through(body) == (["abc"], body)
    assert cancel_through(body, "/gradio_api/queue/join") == ([], body)
    large = json.dumps({"session_hash": "abc", "padding": "x" * MAX_CANCEL_BODY}).encode()
    assert cancel_through(large) == ([], large), "a large body is passed on whole, unread"
    assert cancel_through(b"not json") == ([], b"not json")


def test_the_readout_counts_seconds_from_the_start_and_names_what_loaded() -> None:
    """Gradio's own timer restarts at each yield: the text carries the total since the run began."""
    now, loaded = [100.0], ["sd15"]
    readout = Readout("Denoising", loaded=lambda: loaded, clock=lambda: now[0])
    now[0] = 103.25
    loaded.append("ip:base")
    assert "loaded: ip:base" in readout.preparing() and "sd15" not in readout.preparing()
    assert readout.preparing().startswith("Preparing: loading the models")
    now[0] = 112.0
    assert readout.step(5, 20) == "Denoising · 5/20 steps · 12.0 s in all"
    now[0] = 113.5
    assert readout.step(6, 20) == "Denoising · 6/20 steps · 13.5 s in all", "no restart between steps"

