"""``python -m ipa_demo download``: fetch exactly the files the app loads, not whole repos.

The files come from each spec's ``files`` in ``catalog.py`` (fp16 safetensors where the repo has
them). With a models folder they land in ``DIR/<repo name>/<path in repo>``, the layout that
``--models DIR`` reads; without one, in the Hugging Face cache, where ``HF_HUB_OFFLINE=1`` runs find
them. All network access goes through ``HuggingFaceHub``, so tests can hand in a fake hub.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..errors import MissingModelError
from .catalog import ModelSpec
from .specs import ALL_SPECS, SPECS_BY_KEY


def hub_is_offline() -> bool:
    """``HF_HUB_OFFLINE``, as huggingface_hub read it when it was imported."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def cached_path(spec: ModelSpec, cache_dir: Path | None = None) -> Path | None:
    """``spec`` in the Hub cache when every one of its files is there, else None. Never touches the network."""
    from huggingface_hub import try_to_load_from_cache

    root = None
    for name in spec.files:
        found = try_to_load_from_cache(spec.repo_id, name, cache_dir=cache_dir, revision=spec.revision)
        if not isinstance(found, str):  # None (not cached) or the "known not to exist" marker
            return None
        root = Path(found).parents[name.count("/")]  # the snapshot folder
    assert root is not None, f"{spec.key} lists no files"
    return root / spec.path_in_repo


def download_hint(spec: ModelSpec, models_dir: Path | None = None) -> str:
    target = f" {models_dir}" if models_dir is not None else ""
    return f"get it with `python -m ipa_demo download{target} --only {spec.key}`"


Report = Callable[[str], None]

# Connecting must be quick (an unreachable Hub should fail in about this long, not after a retry
# loop); reading may be slower, since a Hub that accepted the connection is there.
CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 15.0


OFFLINE = "HF_HUB_OFFLINE is set, so nothing can be downloaded (unset it where the Hub is reachable)"


class HubError(MissingModelError):
    """The Hub cannot give us a file: unreachable, offline mode, or the file or repo is not there."""


class HubUnreachableError(HubError):
    """No answer from the Hub at all (offline mode, no network, DNS, timeout, server error)."""


class Hub(Protocol):
    def file_sizes(self, repo_id: str, revision: str | None = None) -> dict[str, int | None]:
        """Every file of the repo at ``revision`` (None: main) and its size in bytes (None when unknown)."""
        ...

    def fetch(
        self, repo_id: str, filename: str, local_dir: Path | None, cache_dir: Path | None, revision: str | None = None
    ) -> Path:
        """Download one file at ``revision`` (or find it up to date) and return its local path."""
        ...


class HuggingFaceHub:
    """The real Hub, through huggingface_hub; the only code here that talks to the network."""

    def file_sizes(self, repo_id: str, revision: str | None = None) -> dict[str, int | None]:
        from huggingface_hub import HfApi

        if hub_is_offline():
            raise HubUnreachableError(OFFLINE)
        try:
            info = HfApi().model_info(
                repo_id, revision=revision, files_metadata=True, timeout=_timeout()  # type: ignore[arg-type]
            )
        except Exception as error:  # noqa: BLE001  # connection, HTTP and repo errors: many unrelated types
            raise _hub_error(repo_id, error) from None
        return {sibling.rfilename: sibling.lfs.size if sibling.lfs else sibling.size for sibling in info.siblings or ()}

    def fetch(
        self, repo_id: str, filename: str, local_dir: Path | None, cache_dir: Path | None, revision: str | None = None
    ) -> Path:
        from huggingface_hub import hf_hub_download

        try:
            path = hf_hub_download(repo_id, filename, revision=revision, local_dir=local_dir, cache_dir=cache_dir)
        except Exception as error:  # noqa: BLE001  # as above
            raise _hub_error(repo_id, error, filename) from None
        return Path(str(path))


def _timeout() -> object:
    """A short connect timeout; huggingface_hub's own session waits forever by default."""
    try:
        import httpx2 as http  # huggingface_hub 2.x
    except ImportError:
        import httpx as http  # type: ignore[no-redef]  # huggingface_hub 1.x
    return http.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)


def _hub_error(repo_id: str, error: Exception, filename: str = "") -> HubError:
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    what = f"{repo_id}/{filename}" if filename else repo_id
    if isinstance(error, OfflineModeIsEnabled):
        return HubUnreachableError(OFFLINE)
    if isinstance(error, GatedRepoError):
        return HubError(f"{what} needs a Hugging Face login with access to the repo (`hf auth login`)")
    if isinstance(error, RepositoryNotFoundError):
        return HubError(f"{what} is not on the Hub (or needs a login)")
    if isinstance(error, EntryNotFoundError) and not isinstance(error, FileNotFoundError):
        return HubError(f"{what} is not on the Hub")
    detail = " ".join(str(error).split())[:200]  # one line, whatever the library put in it
    return HubUnreachableError(
        f"cannot reach the Hugging Face Hub at {constants.ENDPOINT} for {what} ({type(error).__name__}: {detail})"
    )


@dataclass(frozen=True)
class PlannedFile:
    spec: ModelSpec
    path: str  # in the repo
    size: int | None


def plan(specs: Iterable[ModelSpec], hub: Hub) -> list[PlannedFile]:
    """The files to fetch, with sizes; one listing per repo and revision. A file missing on the Hub is an error."""
    listings: dict[tuple[str, str | None], dict[str, int | None]] = {}
    planned: list[PlannedFile] = []
    for spec in specs:
        where = (spec.repo_id, spec.revision)
        if where not in listings:
            listings[where] = hub.file_sizes(spec.repo_id, spec.revision)
        listing = listings[where]
        for path in spec.files:
            if path not in listing:
                at = f" at {spec.revision}" if spec.revision else ""
                raise HubError(f"{spec.key}: {path} is not in {spec.repo_id}{at} on the Hub")
            planned.append(PlannedFile(spec, path, listing[path]))
    return planned


def offline_plan(specs: Iterable[ModelSpec]) -> list[PlannedFile]:
    """The same files without sizes, for a dry run that cannot reach the Hub."""
    return [PlannedFile(spec, path, None) for spec in specs for path in spec.files]


def target_dir(spec: ModelSpec, models_dir: Path | None) -> Path | None:
    """Where ``hf_hub_download`` should put the spec's files: its repo folder, or the cache (None)."""
    return None if models_dir is None else models_dir / spec.repo_name


def download(
    specs: Sequence[ModelSpec],
    models_dir: Path | None = None,
    *,
    hub: Hub | None = None,
    cache_dir: Path | None = None,
    report: Report = print,
) -> list[PlannedFile]:
    """Fetch every file of ``specs``; files already there and up to date are not fetched again."""
    hub = hub or HuggingFaceHub()
    planned = plan(specs, hub)
    for number, item in enumerate(planned, start=1):
        report(f"[{number}/{len(planned)}] {item.spec.key}: {item.path} ({human_size(item.size)})")
        hub.fetch(item.spec.repo_id, item.path, target_dir(item.spec, models_dir), cache_dir, item.spec.revision)
    report(f"done: {len(planned)} files, {human_size(total_size(planned))}")
    return planned


def total_size(planned: Iterable[PlannedFile]) -> int | None:
    sizes = [item.size for item in planned]
    return None if any(size is None for size in sizes) else sum(size for size in sizes if size is not None)


def human_size(size: int | None) -> str:
    if size is None:
        return "size unknown"
    if size < 1000:
        return f"{size} B"
    unit, scale = next((u, s) for u, s in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9)) if size < s * 1000 or u == "GB")
    return f"{size / scale:.2f} {unit}"


def format_plan(planned: Sequence[PlannedFile], models_dir: Path | None) -> str:
    """The dry run's listing: files per component with sizes, a subtotal each, and the total."""
    lines: list[str] = []
    by_spec: dict[str, list[PlannedFile]] = {}
    for item in planned:
        by_spec.setdefault(item.spec.key, []).append(item)
    for items in by_spec.values():
        spec = items[0].spec
        where = target_dir(spec, models_dir) or "the Hugging Face cache"
        repo = f"{spec.repo_id}@{spec.revision}" if spec.revision else spec.repo_id
        lines.append(f"{spec.key}: {spec.description} ({repo} -> {where})")
        width = max(len(item.path) for item in items)
        lines += [f"    {item.path:<{width}}  {human_size(item.size):>12}" for item in items]
        lines.append(f"    {'subtotal':<{width}}  {human_size(total_size(items)):>12}")
    lines.append(f"total: {len(by_spec)} components, {len(planned)} files, {human_size(total_size(planned))}")
    return "\n".join(lines)


def run(models_dir: Path | None, keys: Sequence[str], dry_run: bool, hub: Hub | None = None) -> int:
    """The ``download`` command; keys pick components (default: all of them)."""
    specs = [SPECS_BY_KEY[key] for key in dict.fromkeys(keys)] if keys else list(ALL_SPECS)
    hub = hub or HuggingFaceHub()
    if dry_run:
        try:
            planned = plan(specs, hub)
        except HubUnreachableError as error:  # the file list needs no Hub; only the sizes do
            print(f"warning: {error}; sizes are unknown", file=sys.stderr)
            planned = offline_plan(specs)
        print(format_plan(planned, models_dir))
        return 0
    download(specs, models_dir, hub=hub)
    if models_dir is None:
        print("in the Hugging Face cache: runs with HF_HUB_OFFLINE=1 find them there")
    else:
        print(f"in {models_dir}: run with --models {models_dir} (or IPA_MODELS_DIR={models_dir}), offline")
    return 0
