"""Flags of ``python -m ipa_demo evaluate`` besides the generation flags it shares with ``generate``
(added by the command line, so every generation setting applies to every item). Light: no torch."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .plan import DEFAULT_METHODS, METHODS


def add_evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True,
                        help="COCO folder (annotations/captions_val2017.json + val2017/), a folder of images with "
                             "same-name .txt captions, or a folder with metadata.jsonl")  # fmt: skip
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help=f"comma-separated, from {', '.join(METHODS)} (default: %(default)s)")  # fmt: skip
    parser.add_argument("--limit", type=int, help="only the first N items")
    parser.add_argument(
        "--images-per-item", type=int, default=4, help="outputs per item and method (default 4, as the paper)"
    )
    parser.add_argument("--samples", type=int, default=8, help="items whose images are kept for --report (default 8)")
    parser.add_argument("--clip-model", type=Path,
                        help="CLIP folder for the metrics (default: clip-vit-large-patch14 in --models, else the Hub cache)")  # fmt: skip
    parser.add_argument("--report", action="store_true", help="also write report.html with sample grids")
    parser.add_argument("--resume", action="store_true", help="go on in --out, skipping the items already done")
    parser.add_argument("--batch-items", type=int, default=4, help="items per batch handed to a worker (default 4)")
    parser.add_argument("--ray-address", default=os.environ.get("RAY_ADDRESS") or None, metavar="ADDRESS",
                        help="run on Ray: auto (the running cluster), ray://host:10001, or local (start Ray here); "
                             "default: $RAY_ADDRESS, else one process without Ray")  # fmt: skip
    parser.add_argument("--actors", type=int, default=1, help="Ray actors, each holding one engine (default 1)")
    parser.add_argument(
        "--num-gpus", type=float, default=0.0, help="GPUs per Ray actor, fractional allowed (default 0: CPU)"
    )
    parser.set_defaults(seed=0, out=Path("evaluation"))  # a fixed seed: item i's seeds derive from it and i
