"""The settings of issue 14 through every place they travel: validation, API values, CLI flags, PNG text, UI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ipa_demo.cli import build_parser, main
from ipa_demo.ip_adapter.inputs import NEGATIVE_KEY
from ipa_demo.ip_adapter.layers import WEIGHT_CURVES
from ipa_demo.metadata import read_png_parameters
from ipa_demo.settings import GenerationSettings, IPAdapterSettings, Limits, SettingsError, check_inputs
from ipa_demo.settings.arguments import flag_message, settings_from_args
from ipa_demo.settings.parameters import format_parameters, parse_parameters, settings_from_parameters
from ipa_demo.settings.values import default_values, settings_from_values, values_from_settings
from ipa_demo.ui.fields import parse_request
from ipa_demo.ui.reference_controls import shown_weights, weights_from_grid

from .helpers import noise_image
from .test_cli import small_run

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


# --- 4. negative image ---


def test_cli_negative_reference_acts_and_is_named_in_the_png(tiny_models_dir: Path, tmp_path: Path) -> None:
    reference, negative = tmp_path / "ref.png", tmp_path / "neg.png"
    noise_image(80, 64, seed=4).save(reference)
    noise_image(64, 64, seed=5).save(negative)
    pixels = {}
    for name, extra in {"zero": [], "negative": ["--negative-reference", str(negative)]}.items():
        assert main(small_run(tiny_models_dir, tmp_path / name, "--reference", str(reference), "--seed", "2", *extra)) == 0
        path = tmp_path / name / "00000-2.png"
        pixels[name] = np.asarray(Image.open(path))
        pairs = parse_parameters(read_png_parameters(path) or "")[2]
        assert (NEGATIVE_KEY in pairs) == (name == "negative")
    assert not np.array_equal(pixels["zero"], pixels["negative"])


def test_ui_request_reads_the_negative_reference(tmp_path: Path) -> None:
    path = tmp_path / "neg.png"
    noise_image(40, 30, seed=3).save(path)
    values = {**default_values(), "prompt": "x", "seed": 1, "ip_scale": 0.0, "negative_reference": str(path)}
    request = parse_request(values, Limits())
    assert request.more.negative_reference is not None and request.more.negative_reference.size == (40, 30)
    with pytest.raises(SettingsError) as caught:
        parse_request({**values, "negative_reference": str(tmp_path / "missing.png")}, Limits())
    assert caught.value.field == "negative_reference"


# --- 2. per-reference weights and the combine mode ---


def test_reference_weights_are_checked_and_must_match_the_references() -> None:
    with pytest.raises(SettingsError) as caught:
        IPAdapterSettings(reference_weights=(1.0, -1.0))
    assert caught.value.field == "reference_weights"
    with pytest.raises(SettingsError) as caught:
        IPAdapterSettings(combine="sum")  # type: ignore[arg-type]
    assert caught.value.field == "ip_combine"
    settings = GenerationSettings("x", ip=IPAdapterSettings(reference_weights=(1.0, 0.5)))
    check_inputs(settings, [object(), object()], None)
    with pytest.raises(SettingsError, match="one weight per reference image \\(3\\), got 2"):
        check_inputs(settings, [object()] * 3, None)
    assert not IPAdapterSettings(reference_weights=(0.0, 0.0)).is_active


def test_cli_reference_weights_repeat_and_combine() -> None:
    settings = cli_settings("--reference-weight", "1", "--reference-weight", "0.25", "--combine", "concat")
    assert (settings.ip.reference_weights, settings.ip.combine) == ((1.0, 0.25), "concat")
    assert cli_settings().ip.reference_weights == ()
    assert cli_error("--reference-weight", "4") == "--reference-weight: must be between 0 and 3, got 4.0"


def test_cli_refuses_weights_that_do_not_match_the_references(tiny_models_dir: Path, tmp_path: Path, capsys) -> None:
    reference = tmp_path / "ref.png"
    noise_image(80, 64, seed=4).save(reference)
    args = small_run(tiny_models_dir, tmp_path / "out", "--reference", str(reference), "--reference-weight", "1",
                     "--reference-weight", "2")  # fmt: skip
    assert main(args) == 2
    assert capsys.readouterr().err == "error: --reference-weight: needs one weight per reference image (1), got 2\n"


def test_png_round_trips_reference_weights_and_combine() -> None:
    settings = GenerationSettings("x", ip=IPAdapterSettings(reference_weights=(0.5, 2.0, 0.0), combine="concat"))
    text = format_parameters(settings, 0, ip_used=True, img2img=False)
    pairs = parse_parameters(text)[2]
    assert (pairs["IP reference weights"], pairs["IP combine"]) == ("0.5, 2, 0", "concat")
    assert settings_from_parameters(text) == settings
