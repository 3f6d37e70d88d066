"""Run one engine call so that the web app can follow its steps and stop it.

Gradio stops a generator handler by closing it at a ``yield`` (GeneratorExit); a plain function
would run on to the end. So the engine call runs in a worker thread, the handler's generator
waits for its steps and yields between them, and closing the generator sets an event that the
step callback turns into ``GenerationCancelled``: the engine stops after the step it is in.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator
from typing import TypeVar

from ..loop import GenerationCancelled, StepCallback

Result = TypeVar("Result")
Step = tuple[int, int]  # (steps done, total)

TICK_SECONDS = 0.1  # longest wait between two yields, so a stop is never held up by a silent phase
_FINISHED = object()


def run_stoppable(
    task: Callable[[StepCallback], Result],
    tick: float = TICK_SECONDS,
) -> Generator[Step | None, None, Result]:
    """Yield each step as (done, total), or None when nothing happened for ``tick`` seconds.

    Returns the task's result; re-raises its exception. Closing this generator stops the task
    at its next step (the thread is not joined: closing happens on Gradio's event loop).
    """
    stop = threading.Event()
    events: queue.SimpleQueue[object] = queue.SimpleQueue()
    outcome: dict[str, object] = {}

    def on_step(done: int, total: int) -> None:
        if stop.is_set():
            raise GenerationCancelled()
        events.put((done, total))

    def work() -> None:
        try:
            outcome["result"] = task(on_step)
        except BaseException as error:  # noqa: BLE001 (handed to the waiting generator, which re-raises it)
            outcome["error"] = error
        finally:
            events.put(_FINISHED)

    threading.Thread(target=work, name="ipa-demo-run", daemon=True).start()
    try:
        while True:
            try:
                event = events.get(timeout=tick)
            except queue.Empty:
                yield None
                continue
            if event is _FINISHED:
                break
            yield event  # type: ignore[misc]
    finally:
        stop.set()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"]  # type: ignore[return-value]
