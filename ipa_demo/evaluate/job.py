"""One item's work: each method's outputs and their scores, as rows.

``EvaluationJob`` is Ray Data's batch-inference actor: ``__init__`` loads the engine and the CLIP
metric model once, ``__call__`` takes a batch of items (a dict of columns) and returns the rows of
their outputs (a dict of columns). Without Ray the runner calls the same object directly.
Items are run one at a time whatever the batch: on the CPU a different batch size changes float
rounding, and a row must not depend on which items shared its batch.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ..compare import comparison_methods
from ..images import ImageInputError, load_image
from .datasets import Item
from .metrics import ClipMetrics, resolve_clip
from .plan import METHODS, plan_from_args

if TYPE_CHECKING:
    from ..engine import Engine

EngineFactory = Callable[[argparse.Namespace], "Engine"]  # the command line's load_engine, passed in

ROW_COLUMNS = ("index", "key", "caption", "method", "label", "image", "seed", "clip_i", "clip_t", "clip_t_cosine",
               "seconds", "pixels_sha256", "sample_png")  # fmt: skip
REFERENCE = "reference"  # the method name of a sample's reference picture (sample_png only, no scores)
UNREADABLE = "unreadable"  # the one row of an item whose image cannot be read (its label: why)


def item_columns(items: Sequence[Item]) -> dict[str, list[Any]]:
    """Items as the columns a batch carries (Ray Data's batch, or a direct call)."""
    return {"index": [item.index for item in items], "key": [item.key for item in items],
            "image": [item.image for item in items], "caption": [item.caption for item in items]}  # fmt: skip


class EvaluationJob:
    def __init__(self, args: argparse.Namespace, load_engine: EngineFactory) -> None:
        from ..runtime import quiet_library_output

        quiet_library_output()
        self.plan = plan_from_args(args)
        self.engine = load_engine(args)
        self.metrics = ClipMetrics(resolve_clip(args.clip_model, args.models), self.engine.device)

    def __call__(self, batch: Mapping[str, Sequence[Any] | np.ndarray]) -> dict[str, list[Any]]:
        rows: list[dict[str, Any]] = []
        for index, key, image, caption in zip(batch["index"], batch["key"], batch["image"], batch["caption"]):
            rows += self.run_item(Item(int(index), str(key), str(image), str(caption)))
        return {column: [row[column] for row in rows] for column in ROW_COLUMNS}

    def run_item(self, item: Item) -> list[dict[str, Any]]:
        base = {"index": item.index, "key": item.key, "caption": item.caption}
        try:
            reference = load_image(item.image, f"{item.key} (item {item.index})")
        except ImageInputError as error:  # one bad file must not stop a run of thousands
            return [{**base, **_no_scores(), "method": UNREADABLE, "label": str(error), "image": 0, "seed": -1,
                     "sample_png": b""}]  # fmt: skip
        settings = self.plan.item_settings(item.index, item.caption)
        keep = item.index < self.plan.samples
        wanted = set(self.plan.methods)
        methods = comparison_methods(settings, with_control="ip-adapter+structure" in wanted)
        rows = [{**base, **_no_scores(), "method": REFERENCE, "label": "Reference", "image": 0, "seed": -1,
                 "sample_png": _png(reference)}] if keep else []  # fmt: skip
        for name, method in zip(METHODS, methods):
            if name not in wanted:
                continue
            started = time.perf_counter()
            result = self.engine.generate(
                replace(method.settings, num_images=self.plan.images_per_item),
                [reference],
                init_image=reference if method.init_from_reference else None,
                control_image=reference if method.uses_control else None,
            )
            seconds = (time.perf_counter() - started) / len(result.images)
            scores = self.metrics.score(reference, item.caption, result.images)
            for image, (number, seed), pixels, score in zip(
                result.images, enumerate(result.seeds), result.pixels, scores, strict=True
            ):
                rows.append({**base, **score, "method": name, "label": method.label, "image": number, "seed": seed,
                             "seconds": seconds, "pixels_sha256": hashlib.sha256(pixels.tobytes()).hexdigest(),
                             "sample_png": _png(image) if keep else b""})  # fmt: skip
        return rows


def _no_scores() -> dict[str, Any]:
    return {"clip_i": float("nan"), "clip_t": float("nan"), "clip_t_cosine": float("nan"), "seconds": 0.0,
            "pixels_sha256": ""}  # fmt: skip


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
