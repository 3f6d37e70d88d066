"""docs/catalog-check.md, the record of the catalog against the Hub listings, stays in step with the catalog."""

from __future__ import annotations

import re
from pathlib import Path

from ipa_demo.models.catalog import KNOWN_MISSING
from ipa_demo.models.specs import ALL_SPECS

CHECK_PAGE = Path(__file__).resolve().parents[2] / "docs" / "catalog-check.md"
ABSENT_HEADING = "## Expected but absent"
ROW = re.compile(r"^\| `([^`]+)` \| `([^`]+)` \| ([^|]+) \|", re.MULTILINE)
STATUSES = ("found", "not checked")


def _rows(text: str) -> list[tuple[str, str, str]]:
    return [(repo, path, status.strip()) for repo, path, status in ROW.findall(text)]


def _sections() -> tuple[str, str]:
    catalog_part, absent_part = CHECK_PAGE.read_text(encoding="utf-8").split(ABSENT_HEADING)
    return catalog_part, absent_part


def test_every_file_the_catalog_names_has_exactly_one_row() -> None:
    named = [(spec.repo_id, name) for spec in ALL_SPECS for name in spec.files]
    rows = [(repo, path) for repo, path, _ in _rows(_sections()[0])]
    assert sorted(set(named)) == sorted(rows)  # no file left out, no row for a file the catalog dropped


def test_each_row_says_whether_the_file_was_seen_or_not_checked() -> None:
    for repo, path, status in _rows(_sections()[0]):
        assert status.startswith(STATUSES), (repo, path, status)


def test_every_known_missing_file_has_its_row() -> None:
    rows = {(repo, path) for repo, path, _ in _rows(_sections()[1])}
    assert {(entry.repo_id, entry.path) for entry in KNOWN_MISSING} == rows
