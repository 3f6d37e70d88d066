"""Two Ray CPU actors on this machine give exactly the rows one process gives: same seeds, same
pixels, same scores. Marked ``ray`` (starting Ray takes seconds): ``-m "not ray"`` skips it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ipa_demo.cli import main

from .conftest import comparable, evaluate_flags

pytest.importorskip("ray")


@pytest.mark.ray
def test_two_actors_give_the_rows_of_one_process(
    one_process_run: Path, tiny_models_dir: Path, tiny_clip_dir: Path, tmp_path: Path
) -> None:
    flags = evaluate_flags(tiny_models_dir, tiny_clip_dir, tmp_path, "--report", "--ray-address", "local", "--actors", "2")
    assert main(flags) == 0
    pd.testing.assert_frame_equal(comparable(tmp_path), comparable(one_process_run))
    samples = sorted(path.name for path in (one_process_run / "samples").iterdir())
    assert samples == sorted(path.name for path in (tmp_path / "samples").iterdir())
    assert all((tmp_path / "samples" / name).read_bytes() == (one_process_run / "samples" / name).read_bytes()
               for name in samples)  # fmt: skip
