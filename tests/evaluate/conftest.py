"""The tiny COCO-style fixture shipped beside these tests (five drawings, one listed image missing),
a tiny metric CLIP, the quickest evaluation flags the tiny model set allows, and one reference run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
import torch

from ipa_demo.cli import main

from ipa_demo.models.tiny_clip import write_tiny_clip

COCO = Path(__file__).parent / "coco"
CAPTIONS = ["a red ball on green grass", "a blue square on a white table", "a yellow sun over the sea",
            "two black stripes on orange", "a purple triangle"]  # fmt: skip


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_clip(tmp_path_factory.mktemp("metric-clip"))


def evaluate_flags(models: Path, clip: Path, out: Path, *extra: str, methods: str = "ip-adapter,img2img",
                   limit: int = 3) -> list[str]:  # fmt: skip
    """The quickest ``evaluate`` run on the tiny set: 64², 2 steps, 2 images per item."""
    return ["evaluate", "--data", str(COCO), "--models", str(models), "--clip-model", str(clip), "--out", str(out),
            "--width", "64", "--height", "64", "--steps", "2", "--strength", "0.5", "--images-per-item", "2",
            "--methods", methods, "--limit", str(limit), "--samples", "1", "--batch-items", "1", "--device", "cpu",
            *extra]  # fmt: skip


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Ray gives a one-CPU actor one torch thread; rows match bit for bit only at equal thread counts
    (a reduction split over more threads rounds differently)."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def one_process_run(tiny_models_dir: Path, tiny_clip_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run in this process, without Ray: what the other runs must reproduce."""
    out = tmp_path_factory.mktemp("evaluate-one")
    with torch_threads(1):
        assert main(evaluate_flags(tiny_models_dir, tiny_clip_dir, out, "--report")) == 0
    return out


def comparable(out: Path) -> pd.DataFrame:
    """A run's rows without their timings (the only thing that may differ between runs)."""
    return pd.read_parquet(out / "results.parquet").drop(columns=["seconds"])
