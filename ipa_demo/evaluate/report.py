"""``--report``: one HTML page with the summary table, the plot and a grid per sample item
(its reference, then each method's outputs with their scores). Every text is escaped; images are
the sample files beside the page."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from .plot import summary_svg
from .results import SAMPLES, sample_name
from .summary import PAPER, MethodSummary

REPORT = "report.html"
STYLE = """body{font-family:sans-serif;margin:2em;color:#1a1a1a}table{border-collapse:collapse}
td,th{border:1px solid #999;padding:4px 8px;text-align:left}img{width:160px;height:auto;display:block}
figure{display:inline-block;margin:4px;vertical-align:top;width:160px}figcaption{font-size:12px}"""


def write_report(out: Path, rows: Any, summaries: list[MethodSummary], methods: tuple[str, ...], title: str) -> Path:
    body = [f"<h1>{escape(title)}</h1>", _table(summaries), summary_svg(summaries), "<h2>Samples</h2>"]
    sampled = sorted({int(path.name[:6]) for path in (out / SAMPLES).glob("*-reference-0.png")})
    for index in sampled:
        mine = rows[rows["index"] == index]
        if mine.empty:
            continue
        body.append(f"<h3>{escape(str(mine['key'].iloc[0]))}: “{escape(str(mine['caption'].iloc[0]))}”</h3><div>")
        body.append(_figure(index, "reference", 0, "reference"))
        for row in mine[mine["method"].isin(methods)].itertuples():
            body.append(_figure(index, row.method, row.image, f"{row.method} #{row.image}: CLIP-I {row.clip_i:.3f}, "
                                                             f"CLIP-T {row.clip_t:.3f}"))  # fmt: skip
        body.append("</div>")
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n")  # fmt: skip
    path = out / REPORT
    path.write_text(page, encoding="utf-8")
    return path


def _figure(index: int, method: str, image: int, caption: str) -> str:
    source = f"{SAMPLES}/{sample_name(index, method, image)}"
    text = escape(caption)
    return f'<figure><img src="{escape(source)}" alt="{text}"><figcaption>{text}</figcaption></figure>'


def _table(summaries: list[MethodSummary]) -> str:
    columns = ("method", "items", "outputs", "CLIP-I (95%)", "CLIP-T (95%)", "s / image")
    head = "<tr>" + "".join(f"<th>{column}</th>" for column in columns) + "</tr>"
    rows = [
        f"<tr><td>{escape(s.method)}</td><td>{s.items}</td><td>{s.outputs}</td><td>{s.metrics['clip_i'].text()}</td>"
        f"<td>{s.metrics['clip_t'].text()}</td><td>{s.seconds_per_image:.2f}</td></tr>"
        for s in summaries
    ]
    rows.append(f"<tr><td>{escape(PAPER['method'])}</td><td></td><td></td><td>{PAPER['clip_i']:.3f}</td>"
                f"<td>{PAPER['clip_t']:.3f}</td><td></td></tr>")  # fmt: skip
    return f"<table>{head}{''.join(rows)}</table>"
