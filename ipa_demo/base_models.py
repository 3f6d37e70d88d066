"""The base models a server offers, and which one each request runs on.

A request names its base model (the ``base_model`` setting: one of the server's, by name; empty:
the first). ``BaseModels.serving`` loads it if needed and makes it the request's own for the
duration of the request: what ``Engine.models`` returns inside it. Nothing is switched for anyone
else, so no request changes what another gets.

Memory policy: the first model loads at start; others load on first use, inside the request's
GPU slot (the app's GPU events share one concurrency group), and at most ``keep`` stay loaded,
least recently used out first. A request still running on a model that was let go keeps it until
it ends (it holds its own reference), so for a moment ``keep`` + running requests may be loaded.
Under CPU offload ``keep`` is 1: the offloader moves one base model's stages, and like the offloader
this assumes one request at a time. ``preload`` (ZeroGPU) loads and keeps them all.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch

from .architecture import Architecture
from .models.base_model import ModelChoice, resolve_base_model
from .models.loading import StableDiffusionModels
from .models.sources import ModelSources
from .models_used import ModelsUsed, is_model
from .runtime import ModelOffload
from .settings import SettingsError
from .zerogpu import on_zero_gpu, record_served_architectures

DEFAULT_KEEP = 2  # two SD1.5 models: ~4 GB in fp16, ~8 GB in fp32


@dataclass(frozen=True)
class LoadedBase:
    choice: ModelChoice
    models: StableDiffusionModels


class BaseModels:
    def __init__(
        self,
        options: Sequence[str],  # as the user configured them (--base-model); "" is the catalog's SD1.5
        sources: ModelSources,
        load: Callable[[ModelChoice], StableDiffusionModels],
        keep: int = DEFAULT_KEEP,
    ) -> None:
        if keep < 1:
            raise ValueError(f"at least one base model stays loaded, got keep={keep}")
        choices = [resolve_base_model(option or None, sources) for option in dict.fromkeys(options or [""])]
        self.choices: dict[str, ModelChoice] = {}
        for choice in choices:
            if choice.name in self.choices:
                raise SettingsError(
                    "--base-model", f"two base models are named {choice.name}; a request could not tell them apart"
                )
            self.choices[choice.name] = choice
        self.default = choices[0]
        self.keep = keep
        self._load = load
        self._loaded: OrderedDict[str, LoadedBase] = OrderedDict()
        self._lock = threading.Lock()  # over the loaded models, for a moment
        self._loading = threading.Lock()  # one load at a time; requests on loaded models go on meanwhile
        self._current: ContextVar[LoadedBase | None] = ContextVar("base_model", default=None)
        self.offload: ModelOffload | None = None
        self.loads = 0  # base models loaded, the first included: tests count them
        self.get(self.default.name)

    @property
    def names(self) -> tuple[str, ...]:
        """The names a request may give, the default first (the picker's choices)."""
        return tuple(self.choices)

    def choice(self, requested: str) -> ModelChoice:
        """The model a request names: by name, or as configured; "" is the default."""
        if not requested:
            return self.default
        found = self.choices.get(requested) or next(
            (choice for choice in self.choices.values() if choice.requested == requested), None
        )
        if found is None:
            raise SettingsError("base_model", f"must be one of this server's base models: {', '.join(self.names)}")
        return found

    def check(self, requested: str) -> None:
        self.choice(requested)

    def make_default(self, requested: str) -> None:
        """What requests that name no base model get from now on (an administrator's choice)."""
        chosen = self.choice(requested)
        self.choices = {chosen.name: chosen, **{name: c for name, c in self.choices.items() if name != chosen.name}}
        self.default = chosen

    def get(self, requested: str) -> LoadedBase:
        """The loaded models of a base model, loading it (and letting the least recently used go) if needed."""
        choice = self.choice(requested)
        loaded = self._loaded_now(choice.name)
        if loaded is not None:
            return loaded
        with self._loading:
            loaded = self._loaded_now(choice.name)  # loaded by the request this one waited for
            if loaded is not None:
                return loaded
            loaded = LoadedBase(choice, self._load(choice))
            with self._lock:
                self.loads += 1
                self._loaded[choice.name] = loaded
                self._let_go(keep=1 if self.offload is not None else self.keep, new=loaded)
            return loaded

    def _loaded_now(self, name: str) -> LoadedBase | None:
        with self._lock:
            loaded = self._loaded.get(name)
            if loaded is not None:
                self._loaded.move_to_end(name)
            return loaded

    def _let_go(self, keep: int, new: LoadedBase) -> None:
        released = []
        while len(self._loaded) > keep:
            _, old = self._loaded.popitem(last=False)
            released.append(old)
            if self.offload is not None:
                self.offload.replace_base(old.models, new.models)
        if released and new.models.device.type == "cuda":
            del released
            torch.cuda.empty_cache()

    def enable_offload(self, enable: Callable[[StableDiffusionModels], ModelOffload]) -> ModelOffload:
        """CPU offload over the loaded base model; later ones replace it in the offloader's stages."""
        with self._lock:
            self._let_go(keep=1, new=next(reversed(self._loaded.values())))
            self.offload = enable(next(reversed(self._loaded.values())).models)
            return self.offload

    def preload(self) -> None:
        """Load every base model now and keep them all (ZeroGPU: nothing loads inside a GPU task)."""
        if self.offload is None:
            self.keep = max(self.keep, len(self.choices))
        for name in self.choices:
            self.get(name)
        if on_zero_gpu():  # what ZeroGPU's duration functions size each request by
            record_served_architectures(self.architectures())

    def architectures(self) -> dict[str, Architecture]:
        """The loaded models' architectures by every name a request may give ("": the default)."""
        default = self.get(self.default.name).models.architecture
        with self._lock:
            loaded = list(self._loaded.values())
        names = ((base, name) for base in loaded for name in (base.choice.requested, base.choice.name))
        return {name: base.models.architecture for base, name in names} | {"": default}

    def one_per_family(self) -> tuple[str, ...]:
        """A loaded base model of each architecture family among the loaded ones, the default's first."""
        with self._lock:
            loaded = sorted(self._loaded.values(), key=lambda base: base.choice.name != self.default.name)
        families: dict[str, str] = {}
        for base in loaded:
            families.setdefault(base.models.architecture.family, base.choice.name)
        return tuple(families.values())

    @contextmanager
    def serving(self, requested: str) -> Iterator[LoadedBase]:
        """Make ``requested``'s models this request's own (``current``) until the block ends."""
        loaded = self.get(requested)
        token = self._current.set(loaded)
        try:
            yield loaded
        finally:
            self._current.reset(token)

    @property
    def current(self) -> LoadedBase:
        """The models of the request being served in this thread; outside one, the default model's."""
        return self._current.get() or self.get("")

    def matching(self, used: ModelsUsed) -> str | None:
        """The name of the configured model a PNG was made with (by A1111's hash, else by name), if any.

        Each single file is hashed once per process (``single_file.file_hash``), however many PNGs ask.
        """
        if used.model is None and used.model_hash is None:
            return None
        return next((name for name, choice in self.choices.items() if is_model(used, choice)), None)
