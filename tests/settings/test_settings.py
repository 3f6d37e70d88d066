"""Every bad value is refused with an error naming its field; nothing is silently corrected."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from ipa_demo.settings import GenerationSettings, IPAdapterSettings, Limits, SettingsError, check_limits

GOOD = GenerationSettings(prompt="x")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"steps": 0}, "steps"),
        ({"steps": -3}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"width": 500}, "width"),
        ({"height": 7}, "height"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**64}, "seed"),
        ({"guidance": math.nan}, "guidance"),
        ({"scheduler": "Euler b"}, "scheduler"),
        ({"strength": 1.5}, "strength"),
        ({"strength": 0.0}, "strength"),
        ({"num_images": 0}, "num_images"),
        ({"prompt": None}, "prompt"),
    ],
)
def test_bad_generation_values_name_their_field(changes: dict, field: str) -> None:
    with pytest.raises(SettingsError) as caught:
        replace(GOOD, **changes)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"scale": math.nan}, "ip_scale"),
        ({"scale": math.inf}, "ip_scale"),
        ({"scale": -0.1}, "ip_scale"),
        ({"mask": "1" * 15}, "ip_layers"),
        ({"mask": "1" * 15 + "2"}, "ip_layers"),
        ({"mask": "1" * 15 + " "}, "ip_layers"),
        ({"variant": "huge"}, "ip_variant"),
        ({"start": 0.6, "end": 0.5}, "ip_end"),
        ({"end": 1.01}, "ip_end"),
        ({"stage_weights": (1.0,) * 6}, "ip_stage_down0"),
        ({"stage_weights": (1.0,) * 6 + (math.nan,)}, "ip_stage_up3"),
        ({"fit": "stretch"}, "ip_fit"),
    ],
)
def test_bad_ip_values_name_their_field(changes: dict, field: str) -> None:
    with pytest.raises(SettingsError) as caught:
        IPAdapterSettings(**changes)
    assert caught.value.field == field


def test_unknown_preset_is_refused() -> None:
    with pytest.raises(SettingsError, match="ip_preset"):
        IPAdapterSettings().with_preset("everything")


def test_image_seeds_count_up_from_the_seed() -> None:
    assert replace(GOOD, seed=41, num_images=3).image_seeds == (41, 42, 43)


def test_layer_scales_multiply_lambda_stage_weight_and_bit() -> None:
    ip = IPAdapterSettings(scale=0.5, mask="1" * 6 + "0" + "1" * 9, stage_weights=(1, 1, 2, 1, 1, 1, 0.5))
    scales = ip.layer_scales
    assert scales[4] == scales[5] == 1.0  # down2 × 2
    assert scales[6] == 0.0  # mid masked off
    assert scales[15] == 0.25  # up3 × 0.5
    assert ip.is_active and not replace(ip, start=0.3, end=0.3).is_active


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPA_MAX_SIDE", "256")
    limits = Limits.from_env()
    check_limits(replace(GOOD, width=256, height=256), limits)
    with pytest.raises(SettingsError, match="width"):
        check_limits(replace(GOOD, width=512), limits)
