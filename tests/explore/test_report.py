"""File names of a sweep's cells: bounded, whatever the axis value."""

from __future__ import annotations

from pathlib import Path

from ipa_demo.explore.report import cell_file


def test_a_cell_file_name_stays_short_and_writable_for_any_label(tmp_path: Path) -> None:
    long = cell_file(3, 12, "prompt=" + "a" * 300)
    assert long.startswith("03-12-prompt=aaa") and long.endswith(".png") and len(long) <= 80
    (tmp_path / long).write_bytes(b"")  # the file system takes it
    assert cell_file(0, 1, "ip-scale=0.5") == "00-01-ip-scale=0.5.png"
    assert cell_file(0, 0, "…") == "00-00-cell.png"
