"""Means and 95% intervals over items, the paper's row beside the adapter, and the plot."""

from __future__ import annotations

import math
import statistics
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pandas as pd

from ipa_demo.evaluate.plot import summary_svg
from ipa_demo.evaluate.summary import PAPER, estimate, markdown, summarize, write_summary


def rows() -> pd.DataFrame:
    data = []
    for index, (clip_i, clip_t) in enumerate([(0.8, 0.5), (0.6, 0.3), (0.7, 0.7)]):
        for image in range(2):  # two outputs per item: the interval is over items' means
            data.append({"index": index, "method": "ip-adapter", "image": image, "clip_i": clip_i + 0.01 * image,
                         "clip_t": clip_t, "seconds": 1.0})  # fmt: skip
    data.append({"index": 0, "method": "img2img", "image": 0, "clip_i": 0.9, "clip_t": 0.1, "seconds": 0.5})
    return pd.DataFrame(data)


def test_interval_is_over_item_means() -> None:
    summary = summarize(rows(), ("ip-adapter", "img2img"))
    adapter = summary[0]
    item_means = [0.805, 0.605, 0.705]
    assert (adapter.items, adapter.outputs) == (3, 6)
    assert math.isclose(adapter.metrics["clip_i"].mean, statistics.mean(item_means))
    assert math.isclose(adapter.metrics["clip_i"].half_width, 1.96 * statistics.stdev(item_means) / math.sqrt(3))
    assert math.isnan(summary[1].metrics["clip_i"].half_width)  # one item: no interval, not a made-up one
    assert estimate([0.5]).text() == "0.500"


def test_the_paper_row_sits_under_the_adapter(tmp_path: Path) -> None:
    table = markdown(summarize(rows(), ("ip-adapter", "img2img"))).splitlines()
    assert table[2].startswith("| ip-adapter |") and table[3].startswith(f"| {PAPER['method']} |")
    assert "0.828" in table[3] and "0.588" in table[3] and table[4].startswith("| img2img |")
    write_summary(summarize(rows(), ("ip-adapter",)), tmp_path)
    csv = pd.read_csv(tmp_path / "summary.csv")
    assert csv["clip_t"].tolist()[-1] == PAPER["clip_t"]


def test_plot_is_valid_svg_with_a_bar_per_method_and_metric() -> None:
    svg = ElementTree.fromstring(summary_svg(summarize(rows(), ("ip-adapter", "img2img"))))
    bars = [node for node in svg.iter("{http://www.w3.org/2000/svg}rect") if node.get("fill") != "white"]
    assert len(bars) == 4 and all(float(bar.get("width")) > 0 for bar in bars)
