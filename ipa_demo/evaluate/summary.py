"""Mean and 95% interval of each metric per method, with the paper's figures beside.

The interval is over items (each item's outputs averaged first: the images of one item share a
reference and caption, so they are not independent draws), mean ± 1.96 × standard error.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# IP-Adapter paper, Table 1 (COCO 2017 validation): the SD 1.5 adapter.
PAPER = {"method": "ip-adapter (paper, SD 1.5, COCO val2017)", "clip_t": 0.588, "clip_i": 0.828}
METRICS = ("clip_i", "clip_t")
Z_95 = 1.96


@dataclass(frozen=True)
class Estimate:
    mean: float
    half_width: float  # the 95% interval is mean ± half_width (nan with one item)

    def text(self) -> str:
        return f"{self.mean:.3f}" if math.isnan(self.half_width) else f"{self.mean:.3f} ± {self.half_width:.3f}"


@dataclass(frozen=True)
class MethodSummary:
    method: str
    items: int
    outputs: int
    metrics: dict[str, Estimate]
    seconds_per_image: float


def estimate(values: list[float]) -> Estimate:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return Estimate(mean, float("nan"))
    variance = sum((value - mean) ** 2 for value in values) / (len(values) - 1)
    return Estimate(mean, Z_95 * math.sqrt(variance / len(values)))


def summarize(rows: Any, methods: tuple[str, ...]) -> list[MethodSummary]:
    summaries = []
    for method in methods:
        mine = rows[rows["method"] == method]
        if mine.empty:
            continue
        per_item = mine.groupby("index")[list(METRICS)].mean()
        metrics = {metric: estimate(per_item[metric].tolist()) for metric in METRICS}
        summaries.append(MethodSummary(method, len(per_item), len(mine), metrics, float(mine["seconds"].mean())))
    return summaries


def markdown(summaries: list[MethodSummary]) -> str:
    lines = ["| method | items | outputs | CLIP-I | CLIP-T | s / image |", "|---|---|---|---|---|---|"]
    for summary in summaries:
        lines.append(f"| {summary.method} | {summary.items} | {summary.outputs} | {summary.metrics['clip_i'].text()} "
                     f"| {summary.metrics['clip_t'].text()} | {summary.seconds_per_image:.2f} |")  # fmt: skip
        if summary.method == "ip-adapter":
            lines.append(f"| {PAPER['method']} | — | — | {PAPER['clip_i']:.3f} | {PAPER['clip_t']:.3f} | |")
    return "\n".join(lines) + "\n"


def write_summary(summaries: list[MethodSummary], out: Path) -> Path:
    with (out / "summary.csv").open("w", newline="", encoding="utf-8") as file:
        table = csv.writer(file)
        table.writerow(
            ["method", "items", "outputs", "clip_i", "clip_i_ci95", "clip_t", "clip_t_ci95", "seconds_per_image"]
        )
        for s in summaries:
            i, t = s.metrics["clip_i"], s.metrics["clip_t"]
            table.writerow(
                [s.method, s.items, s.outputs, i.mean, i.half_width, t.mean, t.half_width, s.seconds_per_image]
            )
        table.writerow([PAPER["method"], "", "", PAPER["clip_i"], "", PAPER["clip_t"], "", ""])
    path = out / "summary.md"
    path.write_text(markdown(summaries), encoding="utf-8")
    return path
