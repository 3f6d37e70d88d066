"""One gate for every generation a server runs, whoever asked for it (a web event or an API call).

Gradio's queue runs at most ``concurrency`` of the web app's GPU events at once (one slot group,
``concurrency_id="gpu"``), but it knows nothing of requests that do not pass through it, such as the
A1111 routes (``ipa_demo.sdapi``). So the engine's GPU work itself passes through a gate with the same
number of slots: ``GatedEngine`` wraps the engine that both the web handlers and the API routes are
given, and each ``generate`` call (and each ``serving`` block, which the batched sweeps use) holds
one slot while it runs. A burst of API calls therefore waits for a web generation and never runs
beside it on the GPU, and the other way round. A thread that already holds a slot (a sweep that
generates inside its ``serving`` block) does not take a second one, so nesting cannot deadlock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class GpuGate:
    """At most ``slots`` holders at once; re-entrant per thread."""

    def __init__(self, slots: int = 1) -> None:
        if slots < 1:
            raise ValueError(f"a gate needs at least one slot, got {slots}")
        self.slots = slots
        self._free = threading.BoundedSemaphore(slots)
        self._held = threading.local()

    @contextmanager
    def held(self) -> Iterator[None]:
        depth = getattr(self._held, "depth", 0)
        if depth == 0:
            self._free.acquire()
        self._held.depth = depth + 1
        try:
            yield
        finally:
            self._held.depth = depth
            if depth == 0:
                self._free.release()


class GatedEngine:
    """``engine`` with its GPU work run under ``gate``; everything else is the engine's own."""

    def __init__(self, engine: Any, gate: GpuGate) -> None:
        self._engine = engine
        self.gpu_gate = gate

    @property
    def inner(self) -> Any:
        return self._engine

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        with self.gpu_gate.held():
            return self._engine.generate(*args, **kwargs)

    @contextmanager
    def serving(self, *args: Any, **kwargs: Any) -> Iterator[None]:
        with self.gpu_gate.held(), self._engine.serving(*args, **kwargs):
            yield

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def gated(engine: Any, slots: int) -> GatedEngine:
    """The engine behind a gate of ``slots``; an engine already gated keeps its gate."""
    return engine if isinstance(engine, GatedEngine) else GatedEngine(engine, GpuGate(slots))
