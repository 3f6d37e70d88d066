"""Evaluation throughput: items per second in one process (no Ray), and with 1 and 2 Ray actors.

    python -m benchmarks.evaluate [--models DIR] [--size 64] [--steps 4] [--items 8] [--no-write]

Each run is the real command (``python -m ipa_demo evaluate``, called in this process) over the same
captioned items, IP-Adapter only, 2 images per item. Ray runs start on ``ray.init(num_cpus=2)``
before the clock, so the figures count each actor's engine loading but not Ray's own start. Without
--models: the tiny random set and a tiny metric CLIP, so the figures show the overheads of the
paths (actor start, batching, moving rows), not a GPU's speed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ipa_demo.cli import main as command
from ipa_demo.evaluate.results import RowStore
from ipa_demo.models.tiny import write_tiny_models
from ipa_demo.models.tiny_clip import write_tiny_clip
from tests.training_sets import captioned_folder

from .report import machine_line, write_section


@dataclass(frozen=True)
class Timing:
    total: float  # the whole command
    first_rows: float  # until the first finished batch came back: start-up (engines loading) and one batch
    steady: float  # items per second after the first batch came back


def run(flags: list[str], out: Path, extra: list[str]) -> Timing:
    """The command, with the time each batch of rows came back (``RowStore.write`` is the driver's sink)."""
    arrivals: list[tuple[float, int]] = []
    write = RowStore.write

    def timed_write(store: RowStore, columns: dict) -> int:
        finished = write(store, columns)
        arrivals.append((time.perf_counter(), finished))
        return finished

    RowStore.write = timed_write  # type: ignore[method-assign]
    started = time.perf_counter()
    try:
        assert command([*flags, "--out", str(out), *extra]) == 0
    finally:
        RowStore.write = write  # type: ignore[method-assign]
    total = time.perf_counter() - started
    (first, _), (last, _) = arrivals[0], arrivals[-1]
    later_items = sum(count for _, count in arrivals[1:])
    return Timing(total, first - started, later_items / (last - first) if last > first else float("nan"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, help="a models folder (default: a fresh tiny random set)")
    parser.add_argument("--clip-model", type=Path, help="metric CLIP folder (default: a tiny random one)")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    import ray

    work = Path(tempfile.mkdtemp(prefix="ipa-bench-evaluate-"))
    models = args.models or write_tiny_models(work / "models")
    clip = args.clip_model or write_tiny_clip(work / "clip")
    data = captioned_folder(work / "data", count=args.items)
    flags = ["evaluate", "--data", str(data), "--models", str(models), "--clip-model", str(clip), "--width",
             str(args.size), "--height", str(args.size), "--steps", str(args.steps), "--methods", "ip-adapter",
             "--images-per-item", "2", "--samples", "0", "--batch-items", "1"]  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each one-CPU Ray actor runs
    seconds = {"one process, no Ray (1 thread)": run(flags, work / "one", [])}
    torch.set_num_threads(threads)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        for actors in (1, 2):
            seconds[f"Ray, {actors} CPU actor{'s' * (actors > 1)}"] = run(
                flags, work / f"ray{actors}", ["--ray-address", "local", "--actors", str(actors)]
            )
    finally:
        ray.shutdown()
    lines = [
        "## Evaluation throughput (`benchmarks/evaluate.py`)",
        "",
        f"Machine: {machine_line()}. Models: {'tiny random model set' if args.models is None else args.models}, "
        f"{args.items} items × 2 images, IP-Adapter only, {args.size}², {args.steps} steps. Wall time of the whole "
        "command, each actor's engine loading included, Ray's own start not; first rows: until the first batch "
        "came back; steady: items / s after it (rows come back a batch at a time, so with few items this is coarse).",
        "",
        "| run | seconds | items / s overall | first rows (s) | items / s steady |",
        "|---|---:|---:|---:|---:|",
        *(f"| {name} | {t.total:.1f} | {args.items / t.total:.3f} | {t.first_rows:.1f} | {t.steady:.3f} |"
          for name, t in seconds.items()),
    ]
    print("\n".join(lines))
    if not args.no_write:
        write_section("evaluate", "\n".join(lines))


if __name__ == "__main__":
    main()
