"""Shared by the benchmark scripts: timing medians and their section of BENCHMARKS.md."""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from ipa_demo.engine import Engine  # noqa: E402
from ipa_demo.models.sources import ModelSources  # noqa: E402
from ipa_demo.models.tiny import write_tiny_models  # noqa: E402
from ipa_demo.runtime import pick_device, quiet_library_output  # noqa: E402

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def interleaved_medians(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Time the candidates in turn, round after round, so drift in the machine hits all alike."""
    for run in runs.values():  # warm-up: lazy loading, allocator, oneDNN kernels
        run()
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in samples.items()}


def machine_line() -> str:
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({platform.processor() or platform.machine()})"
    load = os.getloadavg()[0]
    return (
        f"{device}, torch {torch.__version__}, {torch.get_num_threads()} threads, wall time, "
        f"load average {load:.2f} at the end, {time.strftime('%Y-%m-%d')}"
    )


def write_section(name: str, markdown: str) -> None:
    """Replace (or append) the section between this script's markers in BENCHMARKS.md."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else f"{text.rstrip()}\n\n{block}\n"
    BENCHMARKS_MD.write_text(text)


def parse_arguments(
    doc: str, *, size: int, repeats: int, steps: int | None = None, families: tuple[str, ...] = ()
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--models", type=Path, help="a models folder (default: a fresh tiny random set)")
    if families:
        parser.add_argument("--family", choices=families, action="append", help="time only these (default: all)")
    parser.add_argument("--size", type=int, default=size)
    if steps is not None:
        parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    return parser.parse_args()


def models_and_engine(args: argparse.Namespace, dtype_for_device: bool = False) -> tuple[Path, Engine]:
    """The models to time (the tiny set unless --models) and an engine on the best device here.

    fp32 unless ``dtype_for_device`` (then fp16 on CUDA): the reference pipelines must use the same.
    """
    quiet_library_output()
    torch.set_grad_enabled(False)
    models = args.models or write_tiny_models(Path(tempfile.mkdtemp(prefix="ipa-bench-")))
    device, dtype = pick_device("auto")
    return models, Engine(ModelSources(models), device, dtype if dtype_for_device else torch.float32)


def publish(args: argparse.Namespace, section: str, title: str, lines: list[str]) -> None:
    markdown = f"## {title}\n\n" + "\n".join(lines)
    print(markdown)
    if not args.no_write:
        write_section(section, markdown)
