"""The tiny COCO-style fixture shipped beside these tests (five drawings, one listed image missing),
a tiny metric CLIP, and the quickest evaluation flags the tiny model set allows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ipa_demo.models.tiny_clip import write_tiny_clip

COCO = Path(__file__).parent / "coco"
CAPTIONS = ["a red ball on green grass", "a blue square on a white table", "a yellow sun over the sea",
            "two black stripes on orange", "a purple triangle"]  # fmt: skip


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_clip(tmp_path_factory.mktemp("metric-clip"))


EvaluateFlags = Callable[..., list[str]]


@pytest.fixture
def evaluate_flags(tiny_models_dir: Path, tiny_clip_dir: Path) -> EvaluateFlags:
    """``evaluate`` arguments for a run into ``out``; ``extra`` flags replace or add to the defaults."""

    def flags(out: Path, *extra: str, methods: str = "ip-adapter,img2img", limit: int = 3) -> list[str]:
        return ["evaluate", "--data", str(COCO), "--models", str(tiny_models_dir), "--clip-model", str(tiny_clip_dir),
                "--out", str(out), "--width", "64", "--height", "64", "--steps", "2", "--strength", "0.5",
                "--images-per-item", "2", "--methods", methods, "--limit", str(limit), "--samples", "1",
                "--batch-items", "1", "--device", "cpu", *extra]  # fmt: skip

    return flags
