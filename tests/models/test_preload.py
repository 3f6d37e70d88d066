"""Loading at start-up: on ZeroGPU every model is loaded before the first request (``Engine.preload``)
and a request loads nothing; elsewhere models still load on first use."""

from __future__ import annotations

import importlib.util
import types
from dataclasses import replace
from pathlib import Path

import pytest

from ipa_demo import engine as engine_module
from ipa_demo.compare import compare
from ipa_demo.engine import Engine
from ipa_demo.models.catalog import CONTROLNETS, IP_ADAPTERS, T2I_ADAPTERS
from ipa_demo.models.catalog_sdxl import SDXL_BASE, SDXL_CONTROLNETS, SDXL_IP_ADAPTERS, SDXL_T2I_ADAPTERS
from ipa_demo.models.sources import ModelSources
from ipa_demo.settings import (
    ControlNetSettings,
    GenerationSettings,
    IPAdapterSettings,
    ReferenceOnlySettings,
    T2IAdapterSettings,
)

from ..helpers import noise_image

ROOT = Path(__file__).resolve().parents[2]
LOADERS = ("load_image_encoder", "load_ip_adapter", "load_controlnet", "load_t2i_adapter", "load_depth_estimator")
EVERY_MODEL = {
    "image_encoder",
    *(f"ip:{variant}" for variant in IP_ADAPTERS),
    *(f"controlnet:{kind}" for kind in CONTROLNETS),
    *(f"t2i:{kind}" for kind in T2I_ADAPTERS),
    "depth:depth-anything-v2-small",
}
SMALL = GenerationSettings(prompt="a red bicycle", seed=5, width=64, height=64, steps=2)


@pytest.fixture
def loader_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the engine's model loaders, one entry per call from now on."""
    calls: list[str] = []
    for name in LOADERS:
        real = getattr(engine_module, name)

        def counting(*args: object, _name: str = name, _real: object = real, **kwargs: object) -> object:
            calls.append(_name)
            return _real(*args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(engine_module, name, counting)
    return calls


def test_a_new_engine_loads_nothing_until_a_request_needs_it(tiny_models_dir: Path) -> None:
    engine = Engine(ModelSources(tiny_models_dir))
    assert engine.loaded == () and engine.loads == 0
    engine.generate(replace(SMALL, ip=IPAdapterSettings(scale=0.0)))
    assert engine.loaded == ()
    engine.generate(SMALL, [noise_image(64, 64, seed=1)])
    assert set(engine.loaded) == {"image_encoder", "ip:base"}


def test_after_preload_every_model_is_loaded_and_no_request_loads_one(tiny_models_dir: Path, loader_calls) -> None:
    engine = Engine(ModelSources(tiny_models_dir))
    engine.preload()
    assert set(engine.loaded) == EVERY_MODEL and engine.loads == len(EVERY_MODEL)
    expected = ["load_image_encoder", "load_depth_estimator"] + ["load_ip_adapter"] * len(IP_ADAPTERS)
    expected += ["load_controlnet"] * len(CONTROLNETS) + ["load_t2i_adapter"] * len(T2I_ADAPTERS)
    assert sorted(loader_calls) == sorted(expected)
    loader_calls.clear()
    reference, photo = noise_image(72, 64, seed=2), noise_image(64, 64, seed=3)
    for variant in IP_ADAPTERS:
        everything = replace(
            SMALL,
            ip=IPAdapterSettings(scale=0.6, variant=variant),
            controlnet=ControlNetSettings(kind="depth"),
            t2i=T2IAdapterSettings(kind="canny"),
            reference_only=ReferenceOnlySettings(mode="attn"),
        )
        engine.generate(everything, [reference], control_image=photo)
        engine.generate(replace(everything, controlnet=ControlNetSettings(kind="canny"),
                                t2i=T2IAdapterSettings(kind="depth")), [reference], control_image=photo)  # fmt: skip
    compare(engine, replace(SMALL, controlnet=ControlNetSettings(kind="depth")), reference, photo)
    assert loader_calls == [] and engine.loads == len(EVERY_MODEL)


def test_preload_follows_the_chosen_depth_model(tiny_models_dir: Path) -> None:
    engine = Engine(ModelSources(tiny_models_dir), depth_model="dpt-hybrid-midas")
    engine.preload()
    assert [key for key in engine.loaded if key.startswith("depth:")] == ["depth:dpt-hybrid-midas"]


class FakeEngine:
    """Stands in for the engine in app.main: records whether it was preloaded."""

    instances: list[FakeEngine] = []

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.kwargs = kwargs
        self.preloaded = False
        FakeEngine.instances.append(self)

    def preload(self) -> None:
        self.preloaded = True


def run_app(monkeypatch: pytest.MonkeyPatch, *flags: str) -> FakeEngine:
    """``app.main`` with the engine and the Gradio app replaced by fakes; returns the engine it built."""
    spec = importlib.util.spec_from_file_location("app_under_test", ROOT / "app.py")
    assert spec and spec.loader
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    monkeypatch.setattr(engine_module, "Engine", FakeEngine)
    import ipa_demo.ui.app as ui

    monkeypatch.setattr(ui, "create_app", lambda engine, **options: types.SimpleNamespace(launch=lambda **_: None))
    FakeEngine.instances.clear()
    assert app.main(["--models", "/nowhere", "--device", "cpu", *flags]) == 0
    (engine,) = FakeEngine.instances
    return engine


@pytest.mark.parametrize("zero_gpu", [False, True], ids=["elsewhere", "zerogpu"])
def test_app_preloads_on_zero_gpu_only(monkeypatch: pytest.MonkeyPatch, zero_gpu: bool) -> None:
    if zero_gpu:
        monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    else:
        monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    monkeypatch.delenv("IPA_DEPTH_MODEL", raising=False)
    engine = run_app(monkeypatch)
    assert engine.preloaded is zero_gpu
    assert engine.kwargs["depth_model"] == "depth-anything-v2-small"


def test_app_passes_the_depth_model_from_flag_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    monkeypatch.setenv("IPA_DEPTH_MODEL", "dpt-hybrid-midas")
    assert run_app(monkeypatch).kwargs["depth_model"] == "dpt-hybrid-midas"
    assert run_app(monkeypatch, "--depth-model", "depth-anything-v2-small").kwargs["depth_model"] == (
        "depth-anything-v2-small"
    )


def test_preload_covers_each_family_the_server_was_started_with(tiny_models_dir: Path, loader_calls) -> None:
    """An SDXL base model among the server's: its adapters, ViT-bigG, ControlNets and T2I-Adapters load at
    start too, and an SDXL request with all of them on loads nothing."""
    engine = Engine(ModelSources(tiny_models_dir), base_model_options=[SDXL_BASE.repo_id])
    engine.preload()
    sdxl = {
        "image_encoder:image_encoder_sdxl",
        *(f"sdxl:ip:{variant}" for variant in SDXL_IP_ADAPTERS),
        *(f"sdxl:controlnet:{kind}" for kind in SDXL_CONTROLNETS),
        *(f"sdxl:t2i:{kind}" for kind in SDXL_T2I_ADAPTERS),
    }
    assert set(engine.loaded) == EVERY_MODEL | sdxl and engine.base_models.loads == 2
    loader_calls.clear()
    request = replace(SMALL, base_model=SDXL_BASE.repo_name, ip=IPAdapterSettings(scale=0.6, variant="plus"),
                      controlnet=ControlNetSettings(kind="canny"), t2i=T2IAdapterSettings(kind="depth"))  # fmt: skip
    engine.generate(request, [noise_image(64, 64, seed=2)], control_image=noise_image(64, 64, seed=3))
    assert loader_calls == [] and engine.loads == len(EVERY_MODEL | sdxl) and engine.base_models.loads == 2


def test_preload_of_an_sd15_server_loads_no_sdxl_model(tiny_models_dir: Path) -> None:
    engine = Engine(ModelSources(tiny_models_dir))
    engine.preload()
    assert not any("sdxl" in key for key in engine.loaded)
