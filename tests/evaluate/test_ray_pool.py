"""Two Ray CPU actors on this machine give exactly the rows one process gives: same seeds, same
pixels, same scores, even when an actor dies mid-run (Ray starts another and retries its batch).
Marked ``ray`` (starting Ray takes seconds): ``-m "not ray"`` skips it."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from ipa_demo.cli import main
from ipa_demo.evaluate import ray_pool
from ipa_demo.evaluate.job import EvaluationJob

from .conftest import comparable, evaluate_flags

pytest.importorskip("ray")


CRASH_MARKER = "crash-once"


class DiesOnce(EvaluationJob):
    """The first actor to take a batch while ``--out``'s marker file exists removes it and dies."""

    def __init__(self, args, load_engine) -> None:
        super().__init__(args, load_engine)
        self.marker = Path(args.out) / CRASH_MARKER

    def __call__(self, batch):
        try:
            self.marker.unlink()
        except FileNotFoundError:
            return super().__call__(batch)
        os._exit(1)  # as a killed process: no cleanup, no exception


@pytest.mark.ray
def test_two_actors_give_the_rows_of_one_process_even_when_one_dies(
    one_process_run: Path, tiny_models_dir: Path, tiny_clip_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    (tmp_path / CRASH_MARKER).touch()
    monkeypatch.setattr(ray_pool, "EvaluationJob", DiesOnce)
    ray_flags = ["--report", "--ray-address", "local", "--actors", "2"]
    flags = evaluate_flags(tiny_models_dir, tiny_clip_dir, tmp_path, *ray_flags)
    assert main(flags) == 0
    assert not (tmp_path / CRASH_MARKER).exists()  # an actor did die
    pd.testing.assert_frame_equal(comparable(tmp_path), comparable(one_process_run))
    samples = sorted(path.name for path in (one_process_run / "samples").iterdir())
    assert samples == sorted(path.name for path in (tmp_path / "samples").iterdir())
    assert all((tmp_path / "samples" / name).read_bytes() == (one_process_run / "samples" / name).read_bytes()
               for name in samples)  # fmt: skip
