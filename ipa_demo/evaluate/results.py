"""The rows of an evaluation on disk: Parquet parts written as batches finish, one table at the end.

Each finished batch becomes ``rows/part-NNNNNN.parquet`` (written to a temporary name, then renamed,
so a killed run leaves whole parts only). ``--resume`` reads the parts and skips every item whose
rows are all there; an item with some rows missing (its batch died half-written) runs again and
its old rows are dropped. Sample images travel in the rows (``sample_png``) and are written here,
by the one process that owns ``--out``, so a cluster's workers need no shared disk.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from .job import UNREADABLE

RESULTS = "results.parquet"
PARTS = "rows"
SAMPLES = "samples"


class RowStore:
    def __init__(self, out: Path) -> None:
        import pandas as pd

        self._pd = pd
        self.out = out
        self.parts = out / PARTS
        self.parts.mkdir(parents=True, exist_ok=True)
        self._next = 1 + max((int(path.stem.split("-")[1]) for path in self.parts.glob("part-*.parquet")), default=0)

    def read(self) -> Any:
        """Every row written so far (a pandas DataFrame), without sample bytes."""
        files = sorted(self.parts.glob("part-*.parquet"))
        if not files:
            return self._pd.DataFrame()
        return self._pd.concat([self._pd.read_parquet(path) for path in files], ignore_index=True)

    def done_items(self, methods: tuple[str, ...], images_per_item: int) -> set[int]:
        rows = self.read()
        if rows.empty:
            return set()
        scored = rows[rows["method"].isin(methods)].drop_duplicates(["index", "method", "image"])
        counts = Counter(scored["index"].tolist())
        unreadable = {int(index) for index in rows.loc[rows["method"] == UNREADABLE, "index"]}
        return {int(index) for index, count in counts.items() if count == len(methods) * images_per_item} | unreadable

    def write(self, columns: dict[str, list[Any]]) -> int:
        """One batch's rows as a new part; returns how many items it finished."""
        frame = self._pd.DataFrame(columns)
        if frame.empty:
            return 0
        for row in frame.itertuples():
            if row.sample_png:
                path = self.out / SAMPLES / sample_name(row.index, row.method, row.image)
                path.parent.mkdir(exist_ok=True)
                path.write_bytes(row.sample_png)
        frame = frame.drop(columns=["sample_png"])
        target = self.parts / f"part-{self._next:06d}.parquet"
        temporary = target.with_suffix(".tmp")
        frame.to_parquet(temporary, index=False)
        os.replace(temporary, target)
        self._next += 1
        return frame["index"].nunique()

    def finish(self, methods: tuple[str, ...], images_per_item: int) -> Any:
        """``results.parquet``: one row per output of the complete items, each once, in item order."""
        rows = self.read()
        done = self.done_items(methods, images_per_item)
        rows = rows[rows["index"].isin(done) & rows["method"].isin(methods)]
        rows = rows.drop_duplicates(["index", "method", "image"], keep="last")
        rows = rows.sort_values(["index", "method", "image"], ignore_index=True)
        rows.to_parquet(self.out / RESULTS, index=False)
        return rows


def unreadable(rows: Any) -> list[str]:
    """Why each item without outputs has none: its image could not be read."""
    if rows.empty:
        return []
    return sorted(set(rows.loc[rows["method"] == UNREADABLE, "label"]))


def sample_name(index: int, method: str, image: int) -> str:
    return f"{index:06d}-{method}-{image}.png"
