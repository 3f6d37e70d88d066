"""``evaluate`` end to end in one process on the tiny set: a row per output, the summary, plot and
report; an interrupted run resumed loses and repeats nothing; bad flags are one error line; the
command exits cleanly every time."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd
import pytest

from ipa_demo.cli import main
from ipa_demo.evaluate.job import EvaluationJob
from ipa_demo.evaluate.results import RowStore

from ..clean_exit import assert_exits_cleanly
from ..training_sets import captioned_folder
from .conftest import CAPTIONS, comparable, evaluate_flags, torch_threads


def test_a_row_per_output_with_seeds_from_the_item_index(one_process_run: Path) -> None:
    rows = pd.read_parquet(one_process_run / "results.parquet")
    assert len(rows) == 3 * 2 * 2  # items × methods × images per item
    assert rows["caption"].drop_duplicates().tolist() == CAPTIONS[:3]
    assert (rows["seed"] == rows["index"] * 2 + rows["image"]).all()
    assert rows[["clip_i", "clip_t", "clip_t_cosine"]].map(math.isfinite).all().all()
    adapter, img2img = (rows[rows["method"] == name] for name in ("ip-adapter", "img2img"))
    assert not set(adapter["pixels_sha256"]) & set(img2img["pixels_sha256"])  # the methods really differ
    assert rows["pixels_sha256"].nunique() == len(rows)


def test_summary_plot_and_report(one_process_run: Path) -> None:
    summary = (one_process_run / "summary.md").read_text()
    assert "| ip-adapter | 3 | 6 |" in summary and "0.828 | 0.588" in summary
    assert (one_process_run / "summary.svg").read_text().startswith("<svg")
    page = (one_process_run / "report.html").read_text()
    images = [part.split('"')[0] for part in page.split('src="')[1:]]
    assert len(images) == 1 + 2 * 2  # the one sample item: its reference, then each method's outputs
    assert all((one_process_run / image).is_file() for image in images)
    assert CAPTIONS[0] in page


def test_an_interrupted_run_resumes_without_losing_or_repeating_items(
    one_process_run: Path, tiny_models_dir: Path, tiny_clip_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    flags = evaluate_flags(tiny_models_dir, tiny_clip_dir, tmp_path)
    write = RowStore.write

    def write_then_die(store: RowStore, columns) -> int:
        write(store, columns)
        (store.parts / "part-000099.tmp").write_bytes(b"half a part")  # as a kill leaves it
        raise KeyboardInterrupt

    monkeypatch.setattr(RowStore, "write", write_then_die)
    with torch_threads(1), pytest.raises(KeyboardInterrupt):
        main(flags)
    monkeypatch.setattr(RowStore, "write", write)
    assert main(flags) == 2  # without --resume the folder is refused, not mixed
    assert main([*flags, "--resume", "--ip-scale", "0.3"]) == 2  # nor resumed with other settings
    assert "--resume: " in capsys.readouterr().err.splitlines()[-1]

    ran: list[int] = []
    run_item = EvaluationJob.run_item
    monkeypatch.setattr(EvaluationJob, "run_item", lambda job, item: ran.append(item.index) or run_item(job, item))
    with torch_threads(1):
        assert main([*flags, "--resume"]) == 0
    assert ran == [1, 2]
    pd.testing.assert_frame_equal(comparable(tmp_path), comparable(one_process_run))


def test_an_unreadable_image_is_skipped_and_named_not_fatal(
    tiny_models_dir: Path, tiny_clip_dir: Path, tmp_path: Path, capsys
) -> None:
    data = captioned_folder(tmp_path / "data", count=1, broken=True)  # broken.png sorts first
    flags = evaluate_flags(tiny_models_dir, tiny_clip_dir, tmp_path / "out", methods="ip-adapter", limit=2)
    flags[flags.index("--data") + 1] = str(data)
    assert main(flags) == 0
    assert "warning: skipped an item: " in capsys.readouterr().err
    rows = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert rows["key"].unique().tolist() == ["img00.png"] and len(rows) == 2
    assert main([*flags, "--resume"]) == 0  # the bad item counts as done: a resume does not retry it forever


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--actors", "2"], "error: --actors: --actors and --num-gpus need --ray-address"),
        (["--methods", "ip-adapter,nope"], "error: --methods: nope given"),
        (["--reference", "x.png"], "error: --reference: evaluate takes each item's own image"),
        (["--batch-items", "0"], "error: --batch-items: must be at least 1"),
    ],
)
def test_bad_flags_are_one_error_line(
    tiny_models_dir: Path, tiny_clip_dir: Path, tmp_path: Path, capsys, extra: list[str], message: str
) -> None:
    assert main([*evaluate_flags(tiny_models_dir, tiny_clip_dir, tmp_path), *extra]) == 2
    error = capsys.readouterr().err
    assert error.startswith(message) and error.count("\n") == 1, error


def test_without_ray_installed_the_user_is_told_how(
    tiny_models_dir: Path, tiny_clip_dir: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    assert main([*evaluate_flags(tiny_models_dir, tiny_clip_dir, tmp_path), "--ray-address", "local"]) == 2
    assert "error: --ray-address: needs Ray: pip install 'ray[data]'" in capsys.readouterr().err


def test_evaluate_exits_cleanly_every_time_under_load(
    tiny_models_dir: Path, tiny_clip_dir: Path, tmp_path: Path
) -> None:
    def one_item(run: int) -> list[str]:
        return evaluate_flags(tiny_models_dir, tiny_clip_dir, tmp_path / f"out{run}", methods="ip-adapter", limit=1)

    assert_exits_cleanly(one_item, runs=3)
