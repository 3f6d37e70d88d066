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
import time
from collections import defaultdict
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from ..loop import GenerationCancelled, StepCallback

Result = TypeVar("Result")

# Between the yields that let Gradio close a cancelled handler. Each yield clears Gradio's bar (and
# restarts its own timer) until the next report: at 1 s the bar was missing from 9 of 93 samples. Stop
# does not wait for it (``stop_requests``); only a cancel that reaches the run no other way does.
HEARTBEAT_SECONDS = 3.0


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


class Readout:
    """What the progress bar says: the phase or the step's label, the step count and the seconds since the
    run began ("Denoising · 5/20 steps · 3.1 s in all").

    Gradio's own readout above the bar ("5/20 steps | 0.6s") restarts its timer at every yield (a heartbeat's
    "no change" ends the event's pending state, and the next report starts a new one): the layout hides it
    while the bar shows (``layout._PROGRESS``), so the step count and the total are in this text. Before the
    first step the run is preparing; the first run after start-up spends seconds loading models there, so
    the text says so and names each model once loaded.
    """

    def __init__(
        self,
        label: str | Callable[[tuple[int, int]], str],
        loaded: Callable[[], Sequence[str]] = tuple,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._label, self._loaded, self._clock = label, loaded, clock
        self._started = clock()
        self._before = set(loaded())

    def _seconds(self) -> str:
        return f"{self._clock() - self._started:.1f} s in all"

    def step(self, done: int, total: int) -> str:
        label = self._label if isinstance(self._label, str) else self._label((done, total))
        return f"{label} · {done}/{total} steps · {self._seconds()}"

    def preparing(self) -> str:
        new = [name for name in self._loaded() if name not in self._before]
        so_far = f" (loaded: {', '.join(new)})" if new else ""
        return (
            "Preparing: loading the models this run needs that are not loaded yet (the first run after start-up"
            f" loads them){so_far}, then encoding the inputs · {self._seconds()}"
        )
