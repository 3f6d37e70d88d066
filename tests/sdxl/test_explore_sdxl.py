"""Explore on SDXL: the layer atlas goes over its 11 attention modules, sweeps take its lengths of masks and
weights, and injection maps come per module at SDXL's feature sizes (tiny SDXL twin)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from ipa_demo.architecture import SD15, SDXL, SDXL_CONFIG
from ipa_demo.architecture.layers import mask_presets
from ipa_demo.engine import Engine
from ipa_demo.explore.axes import parse_axis
from ipa_demo.explore.injection_view import injection_picture, maps_architecture
from ipa_demo.explore.sweep import plan, run
from ipa_demo.models.catalog_sdxl import SDXL_BASE
from ipa_demo.models.sources import ModelSources
from ipa_demo.settings import GenerationSettings, IPAdapterSettings
from ipa_demo.settings.values import values_from_settings
from ipa_demo.ui.base_model import base_model_architecture

from ..helpers import noise_image

BASE = GenerationSettings(prompt="a house", seed=5, width=64, height=64, steps=3, scheduler="Euler",
                          ip=IPAdapterSettings(scale=0.8))  # fmt: skip


@pytest.fixture(scope="module")
def engine(tiny_models_dir: Path) -> Engine:
    return Engine(ModelSources(tiny_models_dir), base_model=SDXL_BASE.repo_id)


@pytest.fixture(scope="module")
def reference() -> Image.Image:
    return noise_image(80, 64, seed=3)


def test_the_atlas_goes_over_sdxls_eleven_modules() -> None:
    alone = [value.changes["ip_layers"] for value in parse_axis("ip-layers=each", "--x", SDXL).values]
    but_one = [value.changes["ip_layers"] for value in parse_axis("ip-layers=leave-one-out", "--x", SDXL).values]
    assert len(alone) == len(but_one) == 11
    for index, (single, rest) in enumerate(zip(alone, but_one, strict=True)):
        assert single == "".join("1" if other == index else "0" for other in range(11))
        assert rest == "".join("0" if other == index else "1" for other in range(11))
    assert len(parse_axis("ip-layers=each", "--x").values) == 16  # SD 1.5 keeps its own


@pytest.mark.parametrize(
    "x",
    ["ip-layers=each", "ip-weights=" + " ".join(["0.5"] * 5 + ["1.2"] + ["0"] * 5) + ";" + " ".join(
        str(round(index % 3 * 0.45, 2)) for index in range(70))],
    ids=["atlas", "weights-11-and-70"],
)  # fmt: skip
def test_every_sdxl_cell_equals_generate_with_its_settings(engine, reference, x: str) -> None:
    axis = parse_axis(x, "--x", SDXL)
    cells = plan(values_from_settings(BASE), BASE.seed, axis)
    cells = [cells[index] for index in (2, 6)] if len(cells) == 11 else cells  # the style module and another
    # A batch rounds differently from a single run (float32 kernels of another batch size): held to 1e-4 as
    # every parity; the same cell in a batch of one is exact.
    for batch_size, tolerance in ((1, 0.0), (8, 1e-4)):
        result = run(engine, cells, axis, parse_axis("seed=5", "--y"), [reference], batch_size=batch_size)
        for item in result.cells:
            alone = engine.generate(item.cell.settings, [reference]).pixels[0]
            assert np.abs(item.pixels - alone).max() <= tolerance, (batch_size, item.cell.x_label)
    first, second = (item.pixels for item in result.cells)
    assert np.abs(first - second).max() > 0, "the cells differ"


def test_injection_maps_are_per_sdxl_module_at_its_sizes(engine, reference) -> None:
    settings = GenerationSettings(**{**BASE.__dict__, "ip": IPAdapterSettings(scale=0.8).with_preset("style")})
    result = engine.generate(settings, [reference], injection_maps=True)
    maps = result.injection_maps
    assert len(maps) == 11 and maps_architecture(maps) is SDXL
    for index, (module, values) in enumerate(zip(SDXL.modules, maps, strict=True)):
        side = SDXL.feature_side(SDXL.stage(module.stage), 64)
        assert values.shape == (1, side, side)
        assert (values.max() > 0) == (mask_presets(SDXL)["style"][index] == "1"), module.name
    picture = injection_picture(maps, Image.fromarray((result.pixels[0] * 255).astype(np.uint8)), 0)
    assert picture.width > 0 and picture.height > 0


def test_the_page_reads_each_base_models_architecture_from_its_configs(tiny_models_dir: Path) -> None:
    choices = {"sdxl": SimpleNamespace(path=tiny_models_dir / SDXL_BASE.repo_name), "config": SimpleNamespace(path=SDXL_CONFIG),
               "file": SimpleNamespace(path=tiny_models_dir / "x.safetensors")}  # fmt: skip
    engine = SimpleNamespace(base_models=SimpleNamespace(choice=lambda name: choices[name]))
    assert base_model_architecture(engine, "sdxl").module_names == SDXL.module_names
    assert base_model_architecture(engine, "config") == SDXL
    assert base_model_architecture(engine, "file") == SD15  # no such file: the default
    assert base_model_architecture(object(), "anything") == SD15


def test_a_curve_axis_on_sdxl_weighs_its_eleven_modules(engine, reference) -> None:
    """Explore's ip-curve names a curve; on SDXL each cell is that curve over the 11 modules (x = module / 10)."""
    axis = parse_axis("ip-curve=ease in,weak middle", "--x", SDXL)
    cells = plan(values_from_settings(BASE), BASE.seed, axis)
    result = run(engine, cells, axis, parse_axis("seed=5", "--y"), [reference], batch_size=1)
    formulas = {"ease in": lambda x: x * x, "weak middle": lambda x: (2 * x - 1) ** 2}
    for item, (name, formula) in zip(result.cells, formulas.items(), strict=True):
        weights = tuple(round(formula(index / 10), 2) for index in range(11))
        explicit = GenerationSettings(**{**BASE.__dict__, "ip": IPAdapterSettings(scale=0.8, layer_weights=weights)})
        assert np.abs(item.pixels - engine.generate(explicit, [reference]).pixels[0]).max() == 0.0, name
    first, second = (item.pixels for item in result.cells)
    assert np.abs(first - second).max() > 0, "the curves differ"
