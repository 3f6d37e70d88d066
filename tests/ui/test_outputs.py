"""The outputs' disk budget: oldest first, both copies (ours and Gradio's cache)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ipa_demo.settings import SettingsError
from ipa_demo.ui.outputs import COPIES, OutputStore, output_budget_bytes


def noise(seed: int) -> Image.Image:  # incompressible: each PNG is about 49 KB
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (128, 128, 3), dtype=np.uint8))


def test_the_oldest_outputs_and_gradios_copies_go_first_once_both_exceed_the_budget(tmp_path: Path) -> None:
    cache = tmp_path / "gradio"
    store = OutputStore(tmp_path / "out", max_bytes=COPIES * 120_000, cache=cache)
    made = []
    for seed in range(5):
        path = Path(store.save(noise(seed), str(seed)))
        copy = cache / f"hash{seed}" / path.name  # what Gradio does with a returned file
        copy.parent.mkdir(parents=True)
        copy.write_bytes(path.read_bytes())
        os.utime(path, (time.time() - 100 + seed, time.time() - 100 + seed))
        made.append((path, copy))
    kept = [path for path, _ in made if path.exists()]
    assert kept == [path for path, _ in made[-len(kept):]], "the newest are kept"
    assert 1 <= len(kept) < 5
    assert sum(path.stat().st_size for path in kept) * COPIES <= 120_000 * COPIES
    for path, copy in made:
        assert path.exists() == copy.exists(), "Gradio's copy goes with ours"


def test_the_newest_output_stays_even_when_it_alone_exceeds_the_budget(tmp_path: Path) -> None:
    store = OutputStore(tmp_path / "out", max_bytes=1000, cache=tmp_path / "gradio")
    assert Path(store.save(noise(1), "big")).exists()


def test_the_budget_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPA_MAX_OUTPUT_MB", "1.5")
    assert output_budget_bytes() == 1_572_864
    monkeypatch.setenv("IPA_MAX_OUTPUT_MB", "lots")
    with pytest.raises(SettingsError, match="IPA_MAX_OUTPUT_MB: must be a number of megabytes"):
        output_budget_bytes()
    monkeypatch.setenv("IPA_MAX_OUTPUT_MB", "0")
    with pytest.raises(SettingsError, match="must be above 0"):
        output_budget_bytes()
