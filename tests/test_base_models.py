"""BaseModels: each request's own base model, an LRU of loaded ones; loads counted with a fake loader."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from ipa_demo.base_models import BaseModels
from ipa_demo.models.base_model import ModelChoice
from ipa_demo.models.sources import ModelSources
from ipa_demo.models.tiny_user import INPAINTING_FOLDER, SINGLE_FILE
from ipa_demo.settings import SettingsError

DEFAULT, FILE, INPAINTING = "stable-diffusion-v1-5", "tiny-sd15", INPAINTING_FOLDER


def pool(tiny_models_dir: Path, keep: int) -> tuple[BaseModels, list[str]]:
    loaded: list[str] = []

    def load(choice: ModelChoice) -> Any:
        loaded.append(choice.name)
        return SimpleNamespace(name=choice.name, device=torch.device("cpu"))

    options = ["", str(tiny_models_dir / SINGLE_FILE), str(tiny_models_dir / INPAINTING_FOLDER)]
    return BaseModels(options, ModelSources(tiny_models_dir), load, keep), loaded


def test_at_most_keep_models_stay_loaded_least_recently_used_out_first(tiny_models_dir: Path) -> None:
    models, loaded = pool(tiny_models_dir, keep=2)
    assert models.names == (DEFAULT, FILE, INPAINTING) and loaded == [DEFAULT]  # the first loads at start
    for name in (FILE, DEFAULT, INPAINTING):  # FILE is now the least recently used: it goes
        models.get(name)
    assert loaded == [DEFAULT, FILE, INPAINTING]
    models.get(DEFAULT)
    assert loaded == [DEFAULT, FILE, INPAINTING], "DEFAULT stayed loaded"
    models.get(FILE)
    assert loaded == [DEFAULT, FILE, INPAINTING, FILE]
    assert models.get(str(tiny_models_dir / SINGLE_FILE)).choice.name == FILE, "as configured also names it"


def test_preload_loads_and_keeps_them_all(tiny_models_dir: Path) -> None:
    models, loaded = pool(tiny_models_dir, keep=1)
    models.preload()
    for name in (DEFAULT, FILE, INPAINTING, DEFAULT):
        models.get(name)
    assert sorted(loaded) == sorted([DEFAULT, FILE, INPAINTING])


def test_each_thread_serves_its_own_model_at_the_same_time(tiny_models_dir: Path) -> None:
    models, _ = pool(tiny_models_dir, keep=3)
    both_inside = threading.Barrier(2, timeout=30)
    seen: dict[str, str] = {}

    def serve(name: str) -> None:
        with models.serving(name):
            both_inside.wait()  # the other request is being served too
            seen[name] = models.current.models.name

    threads = [threading.Thread(target=serve, args=(name,)) for name in (FILE, INPAINTING)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {FILE: FILE, INPAINTING: INPAINTING}
    assert models.current.choice.name == DEFAULT, "outside a request: the default"


def test_an_unknown_name_is_refused_naming_the_parameter(tiny_models_dir: Path) -> None:
    models, loaded = pool(tiny_models_dir, keep=2)
    with pytest.raises(SettingsError, match=f"base_model: must be one of this server's base models: {DEFAULT}, {FILE}"):
        models.get("tiny-sd15.safetensors")
    assert loaded == [DEFAULT]


def test_a_sweep_along_base_models_runs_each_cell_on_its_own_model(tiny_models_dir: Path) -> None:
    from ipa_demo.engine import Engine
    from ipa_demo.explore.axes import parse_axis
    from ipa_demo.explore.sweep import plan, run
    from ipa_demo.settings import GenerationSettings, IPAdapterSettings
    from ipa_demo.settings.values import values_from_settings

    engine = Engine(ModelSources(tiny_models_dir), base_model_options=[str(tiny_models_dir / SINGLE_FILE)])
    settings = GenerationSettings("a cat", seed=3, width=64, height=64, steps=2, ip=IPAdapterSettings(scale=0.0))
    x, y = parse_axis(f"base-model={DEFAULT},{FILE}", "--x"), parse_axis("seed=3,4", "--y")
    result = run(engine, plan(values_from_settings(settings), settings.seed, x, y), x, y, batch_size=4)
    for cell in result.cells:
        name = cell.cell.settings.base_model
        assert cell.parameters.count(f"Model: {name}") == 1 and ("Model hash" in cell.parameters) == (name == FILE)
    assert sorted(cell.cell.settings.base_model for cell in result.cells) == [DEFAULT, DEFAULT, FILE, FILE]
    assert engine.base_models.loads == 2, "each model loaded once"
