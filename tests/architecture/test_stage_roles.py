"""What each stage shapes, told from the description: InstantStyle's stages by the presets, the rest by scale."""

from __future__ import annotations

from ipa_demo.architecture import SD15, SDXL_CONFIG, describe_folder
from ipa_demo.architecture.stage_roles import layer_span, partner, places, role_of
from ipa_demo.settings.declarations import BY_NAME
from ipa_demo.ui.explainer import diagram

SDXL = describe_folder(SDXL_CONFIG)


def test_roles_on_sd15_and_sdxl() -> None:
    assert {stage.name: role_of(SD15, stage) for stage in SD15.stages} == {
        "down0": "fine", "down1": "between", "down2": "composition", "mid": "whole",
        "up1": "style", "up2": "between", "up3": "fine",
    }  # fmt: skip
    assert {stage.name: role_of(SDXL, stage) for stage in SDXL.stages} == {
        "down1": "fine", "down2": "composition", "mid": "whole", "up0": "style", "up1": "fine"
    }


def test_spans_partners_and_places() -> None:
    spans = [layer_span(stage) for stage in SD15.stages]
    assert spans == ["L0–L1", "L2–L3", "L4–L5", "L6", "L7–L9", "L10–L12", "L13–L15"]
    assert partner(SD15, SD15.stage("down0")) == SD15.stage("up3") and partner(SD15, SD15.stage("mid")) is None
    assert places(SD15, SD15.style) == "`up_blocks.1`"  # a whole block by its name
    assert places(SDXL, SDXL.style) == "`up_blocks.0.attentions.1`"  # one module of a block by its own


def test_the_help_and_the_diagram_say_it_in_words() -> None:
    assert BY_NAME["ip_stage_down2"].help == (
        "Multiplies λ in the down2 stage (encoder, coarse: composition and layout (InstantStyle); 16² at 512²)."
    )
    assert "| 32×32 | **down2** · **composition** (L2–L3) | **up0** · **style** (L5–L7) |" in diagram(SDXL)
