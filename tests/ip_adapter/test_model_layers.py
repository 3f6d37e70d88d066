"""A unit's layer choice read for the running model: SD 1.5 as the settings say, SDXL by what a named mask names."""

from __future__ import annotations

import pytest

from ipa_demo.architecture import SD15, SDXL_CONFIG, describe_folder
from ipa_demo.architecture.layers import mask_presets
from ipa_demo.ip_adapter.model_layers import unit_layer_scales
from ipa_demo.settings import IPAdapterSettings, SettingsError

SDXL = describe_folder(SDXL_CONFIG)


def test_sd15_gets_the_settings_own_scales() -> None:
    settings = IPAdapterSettings(scale=0.5).with_preset("style")
    assert unit_layer_scales(settings, SD15) == settings.layer_scales


@pytest.mark.parametrize("preset", ["all", "style", "composition", "style+composition", "none"])
def test_a_named_mask_is_that_preset_of_sdxl(preset: str) -> None:
    scales = unit_layer_scales(IPAdapterSettings(scale=0.5).with_preset(preset), SDXL)
    assert "".join("1" if value else "0" for value in scales) == mask_presets(SDXL)[preset]
    assert set(scales) <= {0.0, 0.5}


def test_style_on_sdxl_is_up_blocks_0_attentions_1() -> None:
    scales = unit_layer_scales(IPAdapterSettings(scale=1.0).with_preset("style"), SDXL)
    assert [SDXL.module_names[index] for index, value in enumerate(scales) if value] == ["up_blocks.0.attentions.1"]


def test_what_names_no_sdxl_modules_is_refused_naming_the_flag() -> None:
    with pytest.raises(SettingsError, match="ip_layers: has 16 bits, but SDXL has 11"):
        unit_layer_scales(IPAdapterSettings(mask="1" * 15 + "0"), SDXL)
    with pytest.raises(SettingsError, match="ip_weights: needs 11 numbers on SDXL"):
        unit_layer_scales(IPAdapterSettings(layer_weights=(1.0,) * 16), SDXL)
    with pytest.raises(SettingsError, match="ip_stage_down1"):
        unit_layer_scales(IPAdapterSettings(stage_weights=(1.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0)), SDXL)
