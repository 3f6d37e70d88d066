"""The GPU benchmark script runs end to end (here on the CPU, tiny models, tiny size): a smoke test."""

from __future__ import annotations

from benchmarks import gpu
from benchmarks.report import BENCHMARKS_MD


def test_gpu_benchmark_runs_on_the_tiny_set(capsys) -> None:
    before = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else None
    gpu.main(["--size", "64", "--steps", "2", "--repeats", "1", "--no-write"])
    printed = capsys.readouterr().out
    for mode in ("txt2img", "IP-Adapter", "IP + ControlNet canny", "IP + T2I canny", "reference-only", "comparison",
                 "SDXL txt2img", "SDXL IP-Adapter"):  # fmt: skip
        assert f"| {mode}" in printed
    assert "SDXL rows: SDXL base at 64x64" in printed  # the twin's own size
    assert (BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else None) == before
