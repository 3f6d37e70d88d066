"""The gate every generation passes: at most its slots at once, re-entrant within a thread."""

from __future__ import annotations

import threading
import time

from ipa_demo.gpu_gate import GatedEngine, GpuGate, gated


class Recorder:
    def __init__(self) -> None:
        self.active = self.most = 0
        self.lock = threading.Lock()

    def generate(self, *args: object, **kwargs: object) -> str:
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
        time.sleep(0.02)
        with self.lock:
            self.active -= 1
        return "made"

    description = "recorder"


def run_together(engine: GatedEngine, count: int) -> None:
    threads = [threading.Thread(target=engine.generate) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)


def test_the_gate_lets_its_slots_through_at_once() -> None:
    for slots in (1, 2):
        recorder = Recorder()
        run_together(gated(recorder, slots), 6)
        assert recorder.most == slots


def test_a_thread_holding_the_gate_may_generate_inside_it() -> None:
    engine = GatedEngine(Recorder(), GpuGate(1))
    with engine.gpu_gate.held():
        assert engine.generate() == "made"  # would wait for itself forever if the gate were not re-entrant


def test_everything_else_is_the_engines_own_and_a_gated_engine_keeps_its_gate() -> None:
    engine = gated(Recorder(), 1)
    assert engine.description == "recorder"
    assert gated(engine, 4) is engine
