"""The per-layer weights grid follows the chosen base model: SDXL's 11 attention modules, SD 1.5's 16, and the
curves over the chosen model's modules; typed weights are shown as the engine runs them, never rewritten."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import gradio as gr
import pytest

from ipa_demo.architecture import SD15, SDXL
from ipa_demo.architecture.layers import WEIGHT_CURVES, mask_presets, weight_curves
from ipa_demo.models.tiny_sdxl_file import SDXL_SINGLE_FILE
from ipa_demo.models.tiny_user import SINGLE_FILE
from ipa_demo.settings import Limits
from ipa_demo.settings.values import floats_text
from ipa_demo.ui.app import create_app
from ipa_demo.ui.base_model import base_model_architecture
from ipa_demo.ui.layer_grid import fit_note
from ipa_demo.ui.weight_grid import grid_row, weight_headers

from .test_layer_grid import two_family_engine
from .test_ui import FakeEngine

SDXL_HEADERS = ["L0 down1", "L1 down1", "L2 down2", "L3 down2", "L4 mid", "L5 up0", "L6 up0", "L7 up0", "L8 up1",
                "L9 up1", "L10 up1"]  # fmt: skip


def test_the_headers_are_the_models_modules_in_execution_order() -> None:
    assert weight_headers(SDXL) == SDXL_HEADERS
    assert len(weight_headers(SD15)) == 16 and weight_headers(SD15)[0] == "L0 down0"
    assert weight_headers(SD15)[6] == "L6 mid" and weight_headers(SD15)[15] == "L15 up3"


def test_a_row_reads_typed_weights_and_shorthands_on_each_model() -> None:
    ones = (1.0,) * 7
    assert grid_row("", mask_presets(SD15)["style"], ones, SDXL) == [1.0 if i == 6 else 0.0 for i in range(11)]
    assert grid_row("", mask_presets(SD15)["style"], (0.5,) * 7, SDXL) == [0.5 if i == 6 else 0.0 for i in range(11)]
    assert grid_row("", "1" * 11, (1.0, 0.5) + (1.0,) * 5, SDXL) is None  # SD 1.5's stages: refused on SDXL
    assert grid_row(floats_text(WEIGHT_CURVES["ease in"]), "", ones, SDXL) == list(weight_curves(SDXL)["ease in"])
    assert grid_row(", ".join(["1"] * 16), "", ones, SDXL) is None  # 16 numbers that are no curve: the note says so
    assert grid_row(", ".join(["0.5"] * 11), "", ones, SDXL) == [0.5] * 11
    assert grid_row("1, x", "", ones, SDXL) is None


def _event(demo: gr.Blocks, trigger: Any, output: Any) -> Callable[..., Any]:
    for fn in demo.fns.values():
        if output in fn.outputs and any(block_id == trigger._id for block_id, _ in fn.targets):
            return fn.fn
    raise AssertionError(f"no event from {trigger.elem_id} to {output.elem_id}")


def _by_id(demo: gr.Blocks) -> dict[str, Any]:
    return {block.elem_id: block for block in demo.blocks.values() if getattr(block, "elem_id", None)}


@pytest.mark.parametrize(("first", "architecture"), [("sdxl-model", SDXL), ("sd15-model", SD15)])
def test_the_grid_starts_with_the_default_models_modules(first: str, architecture) -> None:
    by_id = _by_id(create_app(two_family_engine(first), limits=Limits(), with_examples=False))
    for grid in ("ip-weights-grid", "ip-unit-3-weights-grid"):
        assert by_id[grid].headers == weight_headers(architecture)
        assert by_id[grid].value["data"] == [[1.0] * len(architecture.modules)]  # "all" × 1


@pytest.mark.parametrize(
    ("grid", "curve"), [("ip-weights-grid", "ip_curve"), ("ip-unit-3-weights-grid", "ip-unit-3-curve")]
)
def test_choosing_a_model_switches_the_grid_and_the_curves(grid: str, curve: str) -> None:
    demo = create_app(two_family_engine("sd15-model"), limits=Limits(), with_examples=False)
    by_id = _by_id(demo)
    shown = _event(demo, by_id["base_model"], by_id[grid])
    weights = "ip_weights" if grid == "ip-weights-grid" else "ip-unit-3-weights"
    shorthands = ["1" * 16, *([1.0] * 7)] if grid == "ip-weights-grid" else ["all"]
    update = shown("", *shorthands, "sdxl-model")
    assert update.headers == SDXL_HEADERS and update.value["data"] == [[1.0] * 11]
    back = shown("", *shorthands, "sd15-model")
    assert back.headers == weight_headers(SD15) and back.value["data"] == [[1.0] * 16]
    fill = _event(demo, by_id[curve], by_id[weights])
    assert fill("strong middle", "sdxl-model") == floats_text(weight_curves(SDXL)["strong middle"])
    assert fill("strong middle", "sd15-model") == floats_text(WEIGHT_CURVES["strong middle"])


def test_a_named_curve_of_the_other_model_gets_no_note() -> None:
    assert fit_note(SDXL, "1" * 11, floats_text(WEIGHT_CURVES["weak middle"])) == ""
    assert fit_note(SD15, "1" * 16, floats_text(weight_curves(SDXL)["weak middle"])) == ""
    assert fit_note(SDXL, "1" * 11, ", ".join(["1"] * 16)).startswith("⚠ The per-layer weights have 16 numbers")


def test_a_single_sdxl_file_gets_sdxls_grids_on_the_page_and_in_explore(tiny_models_dir) -> None:
    """The page and Explore tell a single file's family from its tensor names, as the engine does."""
    paths = {"sd15-file": tiny_models_dir / SINGLE_FILE, "sdxl-file": tiny_models_dir / SDXL_SINGLE_FILE}
    engine = FakeEngine()
    engine.base_models = SimpleNamespace(  # type: ignore[attr-defined]
        names=("sd15-file", "sdxl-file"), choice=lambda name: SimpleNamespace(path=paths[name or "sd15-file"]),
        check=lambda name: None,
    )  # fmt: skip
    assert base_model_architecture(engine, "sdxl-file") == SDXL  # what Explore's layer atlas goes over
    assert base_model_architecture(engine, "sd15-file") == SD15
    demo = create_app(engine, limits=Limits(), with_examples=False)
    by_id = _by_id(demo)
    assert "layer-grid-sdxl" in by_id and "sdxl-layer-10" in by_id  # the SDXL layer grid is there for the file
    update = _event(demo, by_id["base_model"], by_id["ip-weights-grid"])("", "1" * 16, *([1.0] * 7), "sdxl-file")
    assert update.headers == SDXL_HEADERS
