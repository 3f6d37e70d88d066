"""Drives an evaluation: the items not done yet, through one process or a Ray actor pool, a
Parquet part per finished batch, then the summary, the plot and the report."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..settings import SettingsError
from .datasets import Item, read_items
from .job import EngineFactory, EvaluationJob, item_columns
from .plan import plan_from_args, run_identity
from .plot import write_plot
from .report import write_report
from .results import RowStore, unreadable
from .summary import markdown, summarize, write_summary

RUN_FILE = "run.json"  # what decides the rows, checked by --resume


def check_pool_flags(args: argparse.Namespace) -> None:
    if args.batch_items < 1:
        raise SettingsError("--batch-items", f"must be at least 1, got {args.batch_items}")
    if args.actors < 1:
        raise SettingsError("--actors", f"must be at least 1, got {args.actors}")
    if args.num_gpus < 0:
        raise SettingsError("--num-gpus", f"must be 0 or more, got {args.num_gpus:g}")
    if args.ray_address is None and (args.actors != 1 or args.num_gpus):
        raise SettingsError("--actors", "--actors and --num-gpus need --ray-address (local, auto or ray://...)")


def require_table_libraries() -> None:
    """pandas and pyarrow write the rows; the app itself does not need them."""
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        raise SettingsError("evaluate", "needs pandas and pyarrow: pip install pandas pyarrow") from None


def check_same_run(path: Path, identity: dict[str, Any], resume: bool) -> None:
    """A resumed run must be the same run: otherwise its rows would mix two settings in one table."""
    identity = json.loads(json.dumps(identity))  # as it reads back
    if resume and path.is_file():
        before = json.loads(path.read_text(encoding="utf-8"))
        changed = sorted(key for key in identity.keys() | before.keys() if identity.get(key) != before.get(key))
        if "settings" in changed:
            settings = identity["settings"], before.get("settings") or {}
            changed.remove("settings")
            changed += sorted(key for key in settings[0] if settings[0][key] != settings[1].get(key))
        if changed:
            raise SettingsError("--resume", f"{path.parent} holds a run with other settings ({', '.join(changed)}); "
                                "resume with the same flags, or pick another --out")  # fmt: skip
    path.write_text(json.dumps(identity, indent=1), encoding="utf-8")


def evaluate(args: argparse.Namespace, load_engine: EngineFactory, writable_folder: Any) -> Path:
    """Returns the summary's path. ``writable_folder`` is the command line's check of ``--out``."""
    from tqdm import tqdm

    require_table_libraries()
    plan = plan_from_args(args)
    check_pool_flags(args)
    items = read_items(args.data, args.limit)
    out = writable_folder(args.out, "--out")
    store = RowStore(out)
    if not args.resume and any(store.parts.glob("part-*.parquet")):
        raise SettingsError(
            "--out", f"{out} already holds an evaluation's rows: add --resume to go on, or pick another folder"
        )
    check_same_run(out / RUN_FILE, run_identity(plan, args), args.resume)
    done = store.done_items(plan.methods, plan.images_per_item) if args.resume else set()
    todo = [item for item in items if item.index not in done]
    bar = tqdm(total=len(items), initial=len(items) - len(todo), desc="evaluate", unit="item", file=sys.stderr)
    try:
        for columns in _batches(todo, args, load_engine):
            bar.update(store.write(columns))
    finally:
        bar.close()
    rows = store.finish(plan.methods, plan.images_per_item)
    for reason in unreadable(store.read()):
        print(f"warning: skipped an item: {reason}", file=sys.stderr)
    summaries = summarize(rows, plan.methods)
    path = write_summary(summaries, out)
    write_plot(summaries, out)
    if args.report:
        write_report(out, rows, summaries, plan.methods, f"Evaluation of {args.data.name}")
    print(markdown(summaries), end="")
    return path


def _batches(todo: list[Item], args: argparse.Namespace, load_engine: EngineFactory) -> Iterator[dict[str, list[Any]]]:
    if not todo:
        return
    if args.ray_address:
        from .ray_pool import run_on_ray

        yield from run_on_ray(todo, args, load_engine, args.batch_items)
        return
    job = EvaluationJob(args, load_engine)  # the Ray actor class, called directly
    for start in range(0, len(todo), args.batch_items):
        yield job(item_columns(todo[start : start + args.batch_items]))
