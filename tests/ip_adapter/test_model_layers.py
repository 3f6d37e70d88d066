"""A unit's layer choice read for the running model: SD 1.5 as the settings say, SDXL by its own 11 modules or
70 transformer blocks, a named mask of the other model as that preset, anything else refused naming the control."""

from __future__ import annotations

import pytest

from ipa_demo.architecture import SD15, SDXL
from ipa_demo.architecture.layers import mask_presets, weight_curves
from ipa_demo.ip_adapter.model_layers import in_model_terms, unit_layer_scales
from ipa_demo.settings import GenerationSettings, IPAdapterSettings, SettingsError


def test_sd15_gets_the_settings_own_scales() -> None:
    settings = IPAdapterSettings(scale=0.5).with_preset("style")
    assert unit_layer_scales(settings, SD15) == (settings.layer_scales, None)


@pytest.mark.parametrize("preset", ["all", "style", "composition", "style+composition", "none"])
def test_a_named_mask_is_that_preset_of_the_other_model(preset: str) -> None:
    scales, blocks = unit_layer_scales(IPAdapterSettings(scale=0.5).with_preset(preset), SDXL)
    assert "".join("1" if value else "0" for value in scales) == mask_presets(SDXL)[preset] and blocks is None
    assert set(scales) <= {0.0, 0.5}
    back, _ = unit_layer_scales(IPAdapterSettings(scale=0.5, mask=mask_presets(SDXL)[preset]), SD15)
    assert "".join("1" if value else "0" for value in back) == mask_presets(SD15)[preset]


def test_style_on_sdxl_is_up_blocks_0_attentions_1() -> None:
    scales, _ = unit_layer_scales(IPAdapterSettings(scale=1.0).with_preset("style"), SDXL)
    assert [SDXL.module_names[index] for index, value in enumerate(scales) if value] == ["up_blocks.0.attentions.1"]


def test_sdxl_takes_its_own_mask_and_module_weights() -> None:
    assert unit_layer_scales(IPAdapterSettings(scale=0.5, mask="10000000001"), SDXL) == ((0.5,) + (0.0,) * 9 + (0.5,), None)
    weights = tuple(index / 10 for index in range(11))
    assert unit_layer_scales(IPAdapterSettings(scale=2.0, layer_weights=weights), SDXL) == (
        tuple(2.0 * weight for weight in weights), None)  # fmt: skip


def test_seventy_weights_act_per_block_and_a_module_acts_where_any_block_does() -> None:
    weights = tuple(1.0 if index == 5 else 0.0 for index in range(70))  # down_blocks.2.attentions.0's second block
    modules, blocks = unit_layer_scales(IPAdapterSettings(scale=0.5, layer_weights=weights), SDXL)
    assert blocks == tuple(0.5 * weight for weight in weights)
    assert SDXL.blocks[5].name == "down_blocks.2.attentions.0.transformer_blocks.1"
    assert [SDXL.module_names[index] for index, value in enumerate(modules) if value] == ["down_blocks.2.attentions.0"]


@pytest.mark.parametrize(
    ("unit", "settings", "architecture", "message"),
    [
        ("ip", IPAdapterSettings(mask="1" * 15 + "0"), SDXL,
         "ip_layers: SDXL takes 11 bits (one per attention module), got 16 (SD 1.5's; only its named masks carry over)"),
        ("ip2", IPAdapterSettings(layer_weights=(1.0,) * 16), SDXL,
         "ip2_weights: SDXL takes 11 numbers (one per attention module) or 70 (one per transformer block), got 16"),
        ("ip_unit_3", IPAdapterSettings(layer_weights=(1.0,) * 70), SD15,
         "ip_unit_3: weights: SD 1.5 takes 16 numbers (one per attention module), got 70"),
        ("ip", IPAdapterSettings(mask="01100100110"), SD15,
         "ip_layers: SD 1.5 takes 16 bits (one per attention module), got 11 (SDXL's; only its named masks carry over)"),
        ("ip", IPAdapterSettings(stage_weights=(1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0)), SDXL, "ip_stage_down1: "),
    ],
)  # fmt: skip
def test_what_the_model_cannot_take_is_refused_naming_the_control(unit, settings, architecture, message) -> None:
    with pytest.raises(SettingsError) as raised:
        unit_layer_scales(settings, architecture, unit)
    assert str(raised.value).startswith(message)


def test_settings_take_any_known_length_and_nothing_else() -> None:
    assert IPAdapterSettings(mask="0" * 11).mask == "0" * 11
    assert len(IPAdapterSettings(layer_weights=(1.0,) * 70).weights) == 70
    with pytest.raises(SettingsError, match=r"ip_layers: must be one 0 or 1 per attention module \(16 on SD 1.5, 11 on SDXL\)"):
        IPAdapterSettings(mask="0" * 12)
    with pytest.raises(SettingsError, match=r"ip_weights: needs 16 numbers on SD 1.5, 11 or 70 on SDXL, got 12"):
        IPAdapterSettings(layer_weights=(1.0,) * 12)
    with pytest.raises(SettingsError, match="ip_stage_up1: names an SD 1.5 stage, but the layer mask has 11 bits"):
        IPAdapterSettings(mask="1" * 11, stage_weights=(1.0,) * 4 + (0.5, 1.0, 1.0))


def test_an_eleven_bit_mask_takes_one_weight_for_all_modules() -> None:
    settings = IPAdapterSettings(scale=0.5, mask="10000000001", stage_weights=(0.4,) * 7)
    assert settings.weights == (0.4,) + (0.0,) * 9 + (0.4,) and settings.is_active


def test_in_model_terms_writes_a_named_mask_with_the_models_length() -> None:
    settings = GenerationSettings("x", ip=IPAdapterSettings().with_preset("style"), ip2=IPAdapterSettings(scale=0.0))
    assert in_model_terms(settings, SDXL).ip.mask == mask_presets(SDXL)["style"]
    assert in_model_terms(settings, SD15) == settings
    custom = GenerationSettings("x", ip=IPAdapterSettings(mask="1" * 15 + "0"))  # no SDXL bits: left as it was
    assert in_model_terms(custom, SDXL).ip == custom.ip


@pytest.mark.parametrize("curve", ["ease in", "weak middle"])
def test_a_named_curve_is_that_curve_over_the_running_models_modules(curve: str) -> None:
    sd15_curve, sdxl_curve = weight_curves(SD15)[curve], weight_curves(SDXL)[curve]
    scales, blocks = unit_layer_scales(IPAdapterSettings(scale=0.5, layer_weights=sd15_curve), SDXL)
    assert scales == tuple(0.5 * weight for weight in sdxl_curve) and blocks is None
    assert unit_layer_scales(IPAdapterSettings(scale=0.5, layer_weights=sdxl_curve), SD15)[0] == tuple(
        0.5 * weight for weight in sd15_curve)  # fmt: skip
    settings = GenerationSettings("x", ip=IPAdapterSettings(layer_weights=sd15_curve))
    assert in_model_terms(settings, SDXL).ip.layer_weights == sdxl_curve  # what the PNG says
    assert in_model_terms(settings, SD15) == settings  # SD 1.5 as today
