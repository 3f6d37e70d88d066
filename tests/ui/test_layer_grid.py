"""The page's layer grid per base model family: SDXL's 11 modules beside SD 1.5's 16, the selected model's shown,
and a note, never a rewrite, when the typed mask or weights do not fit the model picked."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from unittest.mock import patch

import gradio as gr
import pytest

from ipa_demo.architecture import SD15, SD15_CONFIG, SDXL, SDXL_CONFIG
from ipa_demo.architecture.layers import WEIGHT_CURVES, mask_presets
from ipa_demo.settings import Limits
from ipa_demo.ui.app import create_app
from ipa_demo.settings.values import floats_text
from ipa_demo.ui.layer_grid import every_unit_note, fit_note, model_mask, preset_mask
from ipa_demo.ui.zh_cn import ZH_CN

from .test_ui import FakeEngine

ARCHITECTURES = {"sd15-model": SD15, "sdxl-model": SDXL}


def two_family_engine(first: str) -> FakeEngine:
    paths = {"sd15-model": SD15_CONFIG, "sdxl-model": SDXL_CONFIG}
    names = (first, *(name for name in paths if name != first))
    engine = FakeEngine()
    engine.base_models = SimpleNamespace(  # type: ignore[attr-defined]
        names=names, choice=lambda name: SimpleNamespace(path=paths[name or first]), check=lambda name: None
    )
    return engine


def checkboxes(demo: gr.Blocks, prefix: str) -> dict[str, gr.Checkbox]:
    return {block.elem_id: block for block in demo.blocks.values()
            if isinstance(block, gr.Checkbox) and (block.elem_id or "").startswith(prefix)}  # fmt: skip


def column(demo: gr.Blocks, elem_id: str) -> gr.Column:
    return next(block for block in demo.blocks.values() if isinstance(block, gr.Column) and block.elem_id == elem_id)


@pytest.mark.parametrize("first", ["sd15-model", "sdxl-model"])
def test_a_server_with_sdxl_has_its_grid_of_11_modules_shown_for_its_model(first: str) -> None:
    demo = create_app(two_family_engine(first), limits=Limits(), with_examples=False)
    sdxl = checkboxes(demo, "sdxl-layer-")
    assert sorted(sdxl) == sorted(f"sdxl-layer-{index}" for index in range(11))
    assert sdxl["sdxl-layer-6"].label == "Up 0 · block 1 (32×32) — style"
    assert sdxl["sdxl-layer-3"].label == "Down 2 · block 1 (32×32) — composition"
    assert len(checkboxes(demo, "layer-")) == 16  # SD 1.5's as before
    assert column(demo, "layer-grid-sdxl").visible == (first == "sdxl-model")


def test_a_server_with_sd15_only_has_no_sdxl_grid() -> None:
    demo = create_app(FakeEngine(), limits=Limits(), with_examples=False)  # type: ignore[arg-type]
    assert checkboxes(demo, "sdxl-layer-") == {} and len(checkboxes(demo, "layer-")) == 16


def test_an_sd15_model_of_another_size_keeps_the_stage_grid_and_gets_no_second_one() -> None:
    """A fine-tune (or the tiny twin) describes itself with other feature sizes than SD 1.5's defaults: it is
    still SD 1.5, with the stage sliders, never a second grid of its 16 layers beside them."""
    engine = two_family_engine("sd15-model")
    small = replace(SD15, latent_size=8)
    assert small != SD15 and small.family == SD15.family
    engine.base_models.names = ("sd15-model",)  # type: ignore[attr-defined]
    with patch("ipa_demo.ui.base_model.describe_path", return_value=small):
        demo = create_app(engine, limits=Limits(), with_examples=False)
    family_grids = [block for block in demo.blocks.values()
                    if (getattr(block, "elem_id", None) or "").startswith("layer-grid-")]  # fmt: skip
    assert not family_grids
    around_the_toggles = [block for block in demo.blocks.values() if isinstance(block, gr.Column)
                          and any(getattr(child, "elem_id", None) == "layer-0"
                                  for child in _descendants(block))]  # fmt: skip
    assert around_the_toggles and all(block.visible for block in around_the_toggles)  # the stage grid's own too


def _descendants(block: gr.Blocks) -> list[gr.Blocks]:
    children = list(getattr(block, "children", []))
    return children + [grand for child in children for grand in _descendants(child)]


def test_a_mask_is_read_for_each_model_never_rewritten() -> None:
    style = mask_presets(SD15)["style"]
    assert model_mask(style, SDXL) == mask_presets(SDXL)["style"]  # a named mask carries over, as the engine runs it
    assert model_mask(mask_presets(SDXL)["composition"], SD15) == mask_presets(SD15)["composition"]
    assert model_mask("1" * 15 + "0", SDXL) is None and model_mask("1" * 15 + "0", SD15) == "1" * 15 + "0"
    assert preset_mask("style", "sdxl-model", ARCHITECTURES) == mask_presets(SDXL)["style"]
    assert preset_mask("style", "", ARCHITECTURES) == style  # "": the first, the server's default


def test_the_note_says_what_the_selected_model_cannot_take() -> None:
    assert fit_note(SDXL, mask_presets(SD15)["style"], "") == ""
    assert fit_note(SDXL, "1" * 15 + "0", "") == (
        "⚠ The layer mask has 16 bits; SDXL takes 11 (one per attention module): tick the grid or pick a preset.")
    assert fit_note(SDXL, "1" * 11, ", ".join(["1"] * 16)) == (
        "⚠ The per-layer weights have 16 numbers; SDXL takes 11 numbers (one per attention module) or 70 "
        "(one per transformer block).")  # fmt: skip
    assert fit_note(SDXL, "1" * 11, " ".join(["0.5"] * 70)) == ""
    assert fit_note(SD15, "1" * 11, "") == ""  # SDXL's "all": a named mask
    assert fit_note(SD15, "1" + "0" * 10, "").startswith("⚠ The layer mask has 11 bits; SD 1.5 takes 16")
    chinese = fit_note(SDXL, "1" * 15 + "0", "1 " * 16, chinese=True)
    assert "层蒙版有 16 位" in chinese and "逐层权重有 16 个数字" in chinese and "The" not in chinese


def test_every_word_of_the_sdxl_grid_has_its_chinese() -> None:
    demo = create_app(two_family_engine("sdxl-model"), limits=Limits(), with_examples=False)
    for box in checkboxes(demo, "sdxl-layer-").values():
        assert box.label in ZH_CN, box.label
    texts = [block.value for block in demo.blocks.values() if isinstance(block, gr.Markdown) and block.value]
    assert any("SDXL" in text and "11 attention modules" in text for text in texts)
    for text in texts:
        if "SDXL" in text:
            assert text in ZH_CN, text[:80]


def test_the_note_covers_every_ip_unit_that_would_act() -> None:
    sixteen, curve = ", ".join(["1"] * 16), floats_text(WEIGHT_CURVES["ease in"])
    off = (0.0, "1" * 15 + "0", sixteen)
    assert every_unit_note(SDXL, ("1" * 11, ""), off, []) == ""  # the second adapter is off (λ 0): nothing to say
    second = every_unit_note(SDXL, ("1" * 11, ""), (0.6, "1" * 15 + "0", curve), [])
    assert second == ("⚠ Second adapter: The layer mask has 16 bits; SDXL takes 11 (one per attention module): tick "
                      "the grid or pick a preset.")  # its curve carries over: no word on it  # fmt: skip
    units = [{"preset": "style", "weights": sixteen, "scale": 0.7}, {"preset": "all", "scale": 0.5},
             {"layers": "1" * 16, "weights": [0.5] * 16, "scale": 0.0}]  # fmt: skip
    further = every_unit_note(SDXL, ("1" * 15 + "0", ""), off, units)
    assert further == (
        "⚠ The layer mask has 16 bits; SDXL takes 11 (one per attention module): tick the grid or pick a preset. "
        "⚠ IP-Adapter unit 3: The per-layer weights have 16 numbers; SDXL takes 11 numbers (one per attention "
        "module) or 70 (one per transformer block).")  # unit 5 has λ 0  # fmt: skip
    chinese = every_unit_note(SDXL, ("1" * 11, ""), (0.6, "1" * 15 + "0", ""), units, chinese=True)
    assert "第二个适配器：层蒙版有 16 位" in chinese and "IP-Adapter 单元 3：逐层权重有 16 个数字" in chinese
    assert every_unit_note(SDXL, ("1" * 11, ""), ("x", None, None), "not a list") == ""  # hostile values: no note


def test_the_pages_note_hears_the_second_adapter_and_the_further_units() -> None:
    demo = create_app(two_family_engine("sdxl-model"), limits=Limits(), with_examples=False)
    by_id = {block.elem_id: block for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    note = by_id["layer-fit-note"]
    for trigger in ("ip2_scale", "ip2_layers", "ip2_weights", "ip_units", "ip_layers", "base_model"):
        (fn,) = [fn for fn in demo.fns.values() if note in fn.outputs and
                 any(block_id == by_id[trigger]._id for block_id, _ in fn.targets)]  # fmt: skip
    *_, said = fn.fn("sdxl-model", "1" * 11, "", 0.5, "1" * 11, ", ".join(["1"] * 16), [])
    assert said.startswith("⚠ Second adapter: The per-layer weights have 16 numbers")
