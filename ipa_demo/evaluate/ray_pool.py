"""The items on a Ray cluster: Ray Data ``map_batches`` over a pool of ``EvaluationJob`` actors, each
holding one engine. Ray is a development/cluster dependency only: the app never imports it."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from ..settings import SettingsError
from .datasets import Item
from .job import EngineFactory, EvaluationJob, item_columns

INSTALL_HINT = "needs Ray: pip install 'ray[data]' (or drop --ray-address to run in this process)"


def connect(address: str, actors: int) -> bool:
    """``local`` starts Ray here with a CPU per actor at least; ``auto`` / ``ray://...`` join a cluster.
    True when this call connected (and so the caller disconnects)."""
    try:
        import ray
    except ImportError:
        raise SettingsError("--ray-address", INSTALL_HINT) from None
    if ray.is_initialized():  # a caller (a test, a notebook) set Ray up: use it as it is
        return False
    if address == "local":
        import os

        ray.init(num_cpus=max(actors, os.cpu_count() or 1), include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)
    return True


def run_on_ray(
    items: list[Item], args: argparse.Namespace, load_engine: EngineFactory, batch_items: int
) -> Iterator[dict[str, list[Any]]]:
    """The rows of ``items``, a finished batch at a time, in whatever order the actors finish."""
    connected = connect(args.ray_address, args.actors)
    import ray

    try:
        yield from _map(items, args, load_engine, batch_items)
    finally:
        if connected:
            ray.shutdown()  # its threads and workers must not outlive the command


def _map(
    items: list[Item], args: argparse.Namespace, load_engine: EngineFactory, batch_items: int
) -> Iterator[dict[str, list[Any]]]:
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the runner shows items done and the ETA
    rows = [{key: values[i] for key, values in item_columns(items).items()} for i in range(len(items))]
    dataset = ray.data.from_items(rows, override_num_blocks=max(1, -(-len(items) // batch_items)))
    results = dataset.map_batches(
        EvaluationJob,
        fn_constructor_args=(args, load_engine),
        batch_size=batch_items,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=args.actors),
        num_gpus=args.num_gpus or None,
        num_cpus=1,
    )  # Ray Data restarts a dead actor and retries its batch (its defaults: max_restarts=-1, max_task_retries=-1)
    for batch in results.iter_batches(batch_size=None, batch_format="numpy"):
        yield {column: list(values) for column, values in batch.items()}
