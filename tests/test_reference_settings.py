"""The settings of issue 14 through every place they travel: validation, API values, CLI flags, PNG text, UI."""

from __future__ import annotations

import math

import pytest

from ipa_demo.cli import build_parser
from ipa_demo.ip_adapter.layers import WEIGHT_CURVES
from ipa_demo.settings import GenerationSettings, IPAdapterSettings, SettingsError
from ipa_demo.settings.arguments import flag_message, settings_from_args
from ipa_demo.settings.parameters import format_parameters, parse_parameters, settings_from_parameters
from ipa_demo.settings.values import default_values, settings_from_values, values_from_settings
from ipa_demo.ui.reference_controls import shown_weights, weights_from_grid

WEIGHTS = (0.0, 0.3, 1.2, 2.5, 0.7, 0.0, 1.0, 3.0, 0.2, 0.9, 1.5, 0.4, 0.0, 2.0, 1.1, 0.6)


def cli_settings(*flags: str) -> GenerationSettings:
    args = build_parser().parse_args(["generate", "--prompt", "x", "--seed", "1", *flags])
    return settings_from_args(args)


def cli_error(*flags: str) -> str:
    with pytest.raises(SettingsError) as caught:
        cli_settings(*flags)
    return flag_message(caught.value)


# --- 1. per-layer weights ---


@pytest.mark.parametrize(
    "weights", [(1.0,) * 15, (1.0,) * 17, (1.0,) * 15 + (3.5,), (1.0,) * 15 + (math.nan,), (1.0,) * 15 + (-0.1,)]
)
def test_bad_layer_weights_name_the_setting(weights: tuple[float, ...]) -> None:
    with pytest.raises(SettingsError) as caught:
        IPAdapterSettings(layer_weights=weights)
    assert caught.value.field == "ip_weights"


def test_layer_weights_multiply_lambda_and_override_the_mask() -> None:
    ip = IPAdapterSettings(scale=0.5, mask="0" * 16, layer_weights=WEIGHTS)
    assert ip.layer_scales == tuple(0.5 * weight for weight in WEIGHTS) and ip.is_active
    assert IPAdapterSettings(mask="0" * 16).layer_scales == (0.0,) * 16


def test_layer_weights_travel_as_text_in_the_api_and_read_lists_too() -> None:
    values = {**default_values(), "prompt": "x", "ip_weights": "0, 0.3 1.2,2.5, 0.7 0 1 3 0.2 0.9 1.5 0.4 0 2 1.1 0.6"}
    assert settings_from_values(values, seed=1).ip.layer_weights == WEIGHTS
    assert settings_from_values({**values, "ip_weights": list(WEIGHTS)}, seed=1).ip.layer_weights == WEIGHTS
    assert settings_from_values({**values, "ip_weights": ""}, seed=1).ip.layer_weights == ()
    with pytest.raises(SettingsError, match="ip_weights: must be numbers"):
        settings_from_values({**values, "ip_weights": "1, lots"}, seed=1)
    assert values_from_settings(GenerationSettings("x", ip=IPAdapterSettings(layer_weights=WEIGHTS)))["ip_weights"] == (
        "0, 0.3, 1.2, 2.5, 0.7, 0, 1, 3, 0.2, 0.9, 1.5, 0.4, 0, 2, 1.1, 0.6"
    )


def test_cli_weights_and_curves() -> None:
    assert cli_settings("--ip-weights", ",".join(map(str, WEIGHTS))).ip.layer_weights == WEIGHTS
    assert cli_settings("--ip-curve", "ease out").ip.layer_weights == WEIGHT_CURVES["ease out"]
    assert cli_settings("--ip-preset", "style").ip.layer_weights == ()
    assert cli_error("--ip-weights", "1,2") == "--ip-weights: needs 16 numbers, got 2"
    with pytest.raises(SystemExit):
        cli_settings("--ip-weights", "1," * 15 + "1", "--ip-curve", "ease in")


def test_png_carries_layer_weights_only_when_given() -> None:
    settings = GenerationSettings("x", ip=IPAdapterSettings(layer_weights=WEIGHTS))
    text = format_parameters(settings, 0, ip_used=True, img2img=False)
    assert parse_parameters(text)[2]["IP weights"].startswith("0, 0.3, 1.2, 2.5")
    assert settings_from_parameters(text) == settings
    plain = format_parameters(GenerationSettings("x"), 0, ip_used=True, img2img=False)
    assert "IP weights" not in parse_parameters(plain)[2]


def test_curves_follow_their_formulas() -> None:
    x = [index / 15 for index in range(16)]
    assert WEIGHT_CURVES["ease in"] == tuple(round(v * v, 2) for v in x)
    assert WEIGHT_CURVES["strong middle"][0] == WEIGHT_CURVES["strong middle"][-1] == 0.0
    assert max(WEIGHT_CURVES["strong middle"]) == 1.0 and min(WEIGHT_CURVES["weak middle"]) == 0.0


def test_weight_grid_shows_the_shorthands_until_weights_are_typed() -> None:
    stages = (1.0, 1.0, 2.0, 1.0, 0.5, 1.0, 1.0)
    assert shown_weights("", "0000110111000000", *stages) == [[0.0] * 4 + [2.0, 2.0, 0.0, 0.5, 0.5, 0.5] + [0.0] * 6]
    assert shown_weights("1 " * 16, "0" * 16, *stages) == [[1.0] * 16]
    assert weights_from_grid([list(WEIGHTS)]) == values_from_settings(
        GenerationSettings("x", ip=IPAdapterSettings(layer_weights=WEIGHTS))
    )["ip_weights"]
