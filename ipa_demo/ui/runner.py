"""Run one engine call so that the web app can show its steps and stop it.

The engine call runs in a worker thread. Its steps reach ``gr.Progress`` from that thread, in the
handler's context (Gradio finds the event to report on in context variables), so the handler need
not yield to show them: in Gradio 6.31 every yield clears the progress bar until the next report.

Stop reaches a run two ways. Gradio's own: a cancelled generator handler is closed at its next
yield, and closing sets the run's stop switch; the handler yields "no change" once a
``HEARTBEAT_SECONDS`` for that. And at once: every cancel request (the Stop buttons, an API
client's ``cancel``) sets the switches of the runs its session started (``stop_requests``), so the
engine stops after the step it is in without waiting for a yield.
"""

from __future__ import annotations

import contextvars
import threading
from collections import defaultdict
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import TypeVar

from ..loop import GenerationCancelled, StepCallback

Result = TypeVar("Result")

HEARTBEAT_SECONDS = 1.0  # between the yields that let Gradio close a cancelled handler


class StopSwitches:
    """The stop switch of each run in progress, by the session (browser tab or API client) that started it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_session: defaultdict[str, set[threading.Event]] = defaultdict(set)

    @contextmanager
    def switch(self, session: str | None) -> Iterator[threading.Event]:
        """A new run's switch, registered under ``session`` (None: only closing the run stops it)."""
        switch = threading.Event()
        if session is None:
            yield switch
            return
        with self._lock:
            self._by_session[session].add(switch)
        try:
            yield switch
        finally:
            with self._lock:
                self._by_session[session].discard(switch)
                if not self._by_session[session]:
                    del self._by_session[session]

    def stop(self, session: str) -> None:
        """Stop every run ``session`` has in progress; runs it starts later are not affected."""
        with self._lock:
            for switch in self._by_session.get(session, ()):
                switch.set()


SWITCHES = StopSwitches()


def run_stoppable(
    task: Callable[[StepCallback], Result],
    report: StepCallback | None = None,
    session: str | None = None,
    heartbeat: float = HEARTBEAT_SECONDS,
    switches: StopSwitches = SWITCHES,
) -> Generator[None, None, Result]:
    """Run ``task`` in a worker thread, yielding None every ``heartbeat`` seconds until it ends.

    ``report`` gets each step as (done, total) in the worker thread. Returns the task's result and
    re-raises its exception. The task stops at its next step when this generator is closed or when
    ``session``'s runs are stopped (the thread is not joined: closing happens on Gradio's event loop).
    """
    outcome: dict[str, object] = {}
    finished = threading.Event()
    with switches.switch(session) as stop:

        def on_step(done: int, total: int) -> None:
            if stop.is_set():
                raise GenerationCancelled()
            if report is not None:
                report(done, total)

        def work() -> None:
            try:
                outcome["result"] = task(on_step)
            except BaseException as error:  # noqa: BLE001 (handed to the waiting generator, which re-raises it)
                outcome["error"] = error
            finally:
                finished.set()

        context = contextvars.copy_context()
        threading.Thread(target=context.run, args=(work,), name="ipa-demo-run", daemon=True).start()
        try:
            while not finished.wait(heartbeat):
                yield None
        finally:
            stop.set()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]
