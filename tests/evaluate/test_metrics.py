"""CLIP-I and CLIP-T on the tiny metric CLIP: definitions, and independence from the batch."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from PIL import Image

from ipa_demo.errors import MissingModelError
from ipa_demo.evaluate.metrics import CLIP_T_WEIGHT, ClipMetrics, resolve_clip

from .conftest import COCO


@pytest.fixture(scope="module")
def metrics(tiny_clip_dir: Path) -> ClipMetrics:
    return ClipMetrics(tiny_clip_dir, torch.device("cpu"))


def test_scores_follow_their_definitions(metrics: ClipMetrics) -> None:
    reference, other = (Image.open(path).convert("RGB") for path in sorted((COCO / "val2017").glob("*.png"))[:2])
    scores = metrics.score(reference, "a red ball", [reference, other])
    assert math.isclose(scores[0]["clip_i"], 1.0, abs_tol=1e-5) and scores[1]["clip_i"] < 0.999
    for score in scores:
        assert score["clip_t"] == CLIP_T_WEIGHT * max(score["clip_t_cosine"], 0.0)
    alone = metrics.score(reference, "a red ball", [other])[0]
    assert alone == pytest.approx(scores[1], abs=1e-6)


def test_missing_metric_model_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(MissingModelError, match="clip-vit-large-patch14.*--clip-model DIR"):
        resolve_clip(None, str(tmp_path))
    with pytest.raises(MissingModelError, match="--clip-model: .* is not a CLIP model folder"):
        resolve_clip(tmp_path, None)
