"""The summary as an SVG drawn here (no plotting library is a dependency): one panel per metric,
a bar per method with its 95% interval, and the paper's value as a dashed line."""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

from .summary import METRICS, PAPER, MethodSummary

NAMES = {"clip_i": "CLIP-I (output vs reference)", "clip_t": "CLIP-T (CLIPScore, output vs caption)"}
LABEL_WIDTH, BAR_WIDTH, ROW, TOP = 170, 300, 26, 34
COLOURS = ("#1f5fa8", "#b8520a", "#2e7d32", "#7b1fa2")


def summary_svg(summaries: list[MethodSummary]) -> str:
    panel_height = TOP + ROW * len(summaries) + 24
    width = LABEL_WIDTH + BAR_WIDTH + 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{panel_height * len(METRICS)}" '
             'font-family="sans-serif" font-size="12" role="img" aria-label="CLIP-I and CLIP-T per method">',
             '<rect width="100%" height="100%" fill="white"/>']  # fmt: skip
    for panel, metric in enumerate(METRICS):
        top = panel * panel_height
        tops = [s.metrics[metric].mean + _finite(s.metrics[metric].half_width) for s in summaries]
        scale = max([PAPER[metric], *tops, 1e-9]) * 1.1

        def x(value: float, scale: float = scale) -> float:
            return LABEL_WIDTH + BAR_WIDTH * max(value, 0.0) / scale

        parts.append(f'<text x="4" y="{top + 18}" font-weight="bold">{escape(NAMES[metric])}</text>')
        for row, summary in enumerate(summaries):
            estimate = summary.metrics[metric]
            y = top + TOP + row * ROW
            colour = COLOURS[row % len(COLOURS)]
            parts.append(f'<text x="4" y="{y + 14}">{escape(summary.method)}</text>')
            parts.append(f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{x(estimate.mean) - LABEL_WIDTH:.1f}" '
                         f'height="{ROW - 8}" fill="{colour}"/>')  # fmt: skip
            if not math.isnan(estimate.half_width):
                low, high = x(estimate.mean - estimate.half_width), x(estimate.mean + estimate.half_width)
                parts.append(f'<line x1="{low:.1f}" x2="{high:.1f}" y1="{y + 12}" y2="{y + 12}" stroke="black"/>')
            parts.append(f'<text x="{x(estimate.mean) + 4:.1f}" y="{y + 15}">{estimate.mean:.3f}</text>')
        paper_x = x(PAPER[metric])
        bottom = top + TOP + ROW * len(summaries)
        parts.append(f'<line x1="{paper_x:.1f}" x2="{paper_x:.1f}" y1="{top + TOP - 4}" y2="{bottom}" '
                     'stroke="#444" stroke-dasharray="4 3"/>')  # fmt: skip
        parts.append(f'<text x="{paper_x:.1f}" y="{bottom + 14}" text-anchor="middle">paper {PAPER[metric]:.3f}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _finite(value: float) -> float:
    return 0.0 if math.isnan(value) else value


def write_plot(summaries: list[MethodSummary], out: Path) -> Path:
    path = out / "summary.svg"
    path.write_text(summary_svg(summaries), encoding="utf-8")
    return path
