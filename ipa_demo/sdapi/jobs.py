"""The API's jobs: each caller's progress and its interrupt, and a bound on how many may wait.

A1111 has one global job; here many callers share the server, so ``/progress`` and ``/interrupt``
act on the caller's own jobs only. A caller is its HTTP Basic user when the API is protected
(``--api-auth``), else its address: a caller cannot see or stop another's job. Jobs wait for the
engine's gate (``gpu_gate``) beside the web app's events; at most ``concurrency + queue_size`` API
jobs may be running or waiting at once, as Gradio bounds its own queue, and more are answered 503.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..loop import GenerationCancelled
from ..ui.clients import max_queued_per_client
from .errors import ApiError


@dataclass
class JobState:
    job_count: int
    started: float = field(default_factory=time.monotonic)
    job_no: int = 0  # the run (of n_iter) in progress
    step: int = 0
    steps: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def on_step(self, done: int, total: int) -> None:
        if self.stop.is_set():
            raise GenerationCancelled()
        self.step, self.steps = done, total

    @property
    def progress(self) -> float:
        within = self.step / self.steps if self.steps else 0.0
        return min(1.0, (self.job_no + within) / self.job_count)

    def as_progress(self) -> dict[str, object]:
        done = self.progress
        elapsed = time.monotonic() - self.started
        eta = elapsed / done - elapsed if done > 0 else 0.0
        state = {"skipped": False, "interrupted": self.stop.is_set(), "job": "", "job_count": self.job_count,
                 "job_timestamp": "", "job_no": self.job_no, "sampling_step": self.step,
                 "sampling_steps": self.steps}  # fmt: skip
        return {"progress": done, "eta_relative": eta, "state": state, "current_image": None, "textinfo": None}


IDLE = {"progress": 0.0, "eta_relative": 0.0, "current_image": None, "textinfo": None,
        "state": {"skipped": False, "interrupted": False, "job": "", "job_count": 0, "job_timestamp": "",
                  "job_no": 0, "sampling_step": 0, "sampling_steps": 0}}  # fmt: skip


class Jobs:
    """At most ``max_jobs`` API jobs at once, and ``per_caller`` of them one caller's (``IPA_MAX_QUEUED_PER_CLIENT``)."""

    def __init__(self, max_jobs: int, per_caller: int | None = None) -> None:
        self.max_jobs = max_jobs
        self.per_caller = max_queued_per_client(per_caller)
        self._lock = threading.Lock()
        self._by_caller: dict[str, list[JobState]] = {}

    @contextmanager
    def job(self, caller: str, job_count: int) -> Iterator[JobState]:
        state = JobState(job_count)
        with self._lock:
            if sum(len(jobs) for jobs in self._by_caller.values()) >= self.max_jobs:
                busy = f"Queue is full ({self.max_jobs} API jobs): the server is busy, try again in a minute."
                raise ApiError(503, None, busy)
            if len(self._by_caller.get(caller, ())) >= self.per_caller:
                raise ApiError(503, None, f"You already have {self.per_caller} jobs queued or running on this server, "
                               f"the most one client may have (IPA_MAX_QUEUED_PER_CLIENT is {self.per_caller}): "
                               "wait for one to finish, or interrupt it.")  # fmt: skip
            self._by_caller.setdefault(caller, []).append(state)
        try:
            yield state
        finally:
            with self._lock:
                jobs = self._by_caller[caller]
                jobs.remove(state)
                if not jobs:
                    del self._by_caller[caller]

    def progress(self, caller: str) -> dict[str, object]:
        with self._lock:
            jobs = list(self._by_caller.get(caller, ()))
        return jobs[0].as_progress() if jobs else IDLE

    def interrupt(self, caller: str) -> int:
        """Stop the caller's jobs at their next step; how many there were."""
        with self._lock:
            jobs = list(self._by_caller.get(caller, ()))
        for state in jobs:
            state.stop.set()
        return len(jobs)
