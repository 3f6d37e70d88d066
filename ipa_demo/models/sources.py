"""Where each model comes from: a local folder laid out like the Hub repos, or the Hub cache.

With a models folder every component resolves to ``<models_dir>/<repo name>/<path in repo>``,
the layout a ``huggingface_hub`` download of each repo gives. Without one, components come
from the Hub cache, downloading exactly the files the catalog lists when they are not cached yet.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import MissingModelError
from .catalog import ModelSpec
from .download import HubError, cached_path, download, download_hint, hub_is_offline

MODELS_DIR_ENV = "IPA_MODELS_DIR"


@dataclass(frozen=True)
class ModelSources:
    """Resolves a spec to a local path: from ``models_dir`` when set, else from the Hub cache.

    ``hub_cache`` overrides huggingface_hub's cache folder (``$HF_HOME/hub``); tests use it.
    """

    models_dir: Path | None = None
    hub_cache: Path | None = None

    @classmethod
    def from_env(cls, models_dir: str | os.PathLike[str] | None = None) -> ModelSources:
        chosen = models_dir or os.environ.get(MODELS_DIR_ENV) or None
        return cls(Path(chosen).expanduser() if chosen else None)

    def local_path(self, spec: ModelSpec) -> Path:
        """Where ``spec`` lives under ``models_dir`` (whether or not it exists)."""
        if self.models_dir is None:
            raise ValueError("no models folder is set")
        return self.models_dir / spec.repo_name / spec.path_in_repo

    def resolve(self, spec: ModelSpec) -> Path:
        if self.models_dir is not None:
            path = self.local_path(spec)
            if not path.exists():
                raise MissingModelError(
                    f"missing {spec.description}: expected {path} ({download_hint(spec, self.models_dir)})"
                )
            return path
        return self._from_hub(spec)

    def _from_hub(self, spec: ModelSpec) -> Path:
        path = cached_path(spec, self.hub_cache)
        if path is not None:
            return path
        missing = f"{spec.description} ({spec.repo_id}) is not in the Hub cache"
        if hub_is_offline():
            raise MissingModelError(
                f"{missing} and HF_HUB_OFFLINE is set: {download_hint(spec)} where the Hub is reachable, "
                "or pass --models DIR"
            )
        try:
            download([spec], cache_dir=self.hub_cache, report=_to_stderr)
        except HubError as error:
            raise MissingModelError(
                f"{missing}, and downloading it failed: {error}; {download_hint(spec)}, or pass --models DIR"
            ) from None
        path = cached_path(spec, self.hub_cache)
        if path is None:
            raise MissingModelError(f"{missing} even after downloading it; {download_hint(spec)}")
        return path


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
