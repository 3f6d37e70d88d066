"""Every declared setting reaches all four places: CLI flags, PNG parameters, UI/API values, the API.

The probe values are derived from the declarations themselves (a value other than the default,
inside the declared range or choices), so a setting added tomorrow is probed without editing this
test, and one that a derivation drops fails it.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ipa_demo.architecture.layers import MASK_PRESETS
from ipa_demo.cli import build_parser
from ipa_demo.settings import GenerationSettings
from ipa_demo.settings.arguments import settings_from_args
from ipa_demo.settings.declarations import BY_NAME, IMAGE_PARAMS, PACKED_KEYS, SETTINGS, Setting
from ipa_demo.settings.parameters import format_parameters, settings_from_parameters
from ipa_demo.settings.values import PARAMS, settings_from_values, values_from_settings
from ipa_demo.ui.app import create_app

DEFAULTS = values_from_settings(GenerationSettings(prompt=""))
# Values that make every part act, so that each part's keys are written.
ACTIVE = {"controlnet": "canny", "t2i": "canny", "ref_only": "attn", "strength": 0.5, "ip_scale": 1.0}


def probe(setting: Setting) -> Any:
    """A valid value other than the default."""
    if setting.name in ACTIVE:
        return ACTIVE[setting.name]
    default = DEFAULTS[setting.name]
    if setting.kind == "text":
        return "probe, with a comma"
    if setting.kind == "flag":
        return not default
    if setting.kind == "choice":
        return next(choice for choice in reversed(setting.choices) if choice != default)
    if setting.kind == "mask":
        return next(mask for mask in MASK_PRESETS.values() if mask != default and "1" in mask)
    low, high = setting.low, setting.high
    assert low is not None and high is not None
    if setting.kind == "floats":  # a list: a count of them when the count is fixed, else two
        return tuple(round(low + (high - low) * (index % 4 + 1) / 5, 2) for index in range(setting.counts[0] if setting.counts else 2))
    if setting.kind == "int":
        step = int(setting.step or 1)
        return int(low + step * math.ceil((high - low) / step / 3)) if default != int(low) + step else int(low)
    candidate = round(low + (high - low) / 3, 2)
    return candidate if candidate != default else round(low + (high - low) / 2, 2)


def probed_settings(control_is_map: bool) -> GenerationSettings:
    values = {setting.name: probe(setting) for setting in SETTINGS}
    values["control_is_map"] = control_is_map
    values["width"] = values["height"] = 256  # multiples of 8
    values["canny_low"], values["canny_high"] = sorted((values["canny_low"], values["canny_high"]))
    values["ip_end"] = values["ip2_end"] = values["controlnet_end"] = values["ref_end"] = 0.9  # after each start
    return settings_from_values(values, seed=values["seed"])


def argv_for(settings: GenerationSettings, tmp_path: Path) -> list[str]:
    values = values_from_settings(settings)
    argv = ["generate"]
    for setting in SETTINGS:
        value = values[setting.name]
        if setting.name == "control_is_map":
            argv += ["--control-map" if value else "--control-image", str(tmp_path / "map.png")]
        elif setting.kind == "flag":
            argv += [setting.flag] * bool(value)
        elif setting.kind == "floats" and not setting.counts:  # repeatable: one flag per item
            for item in value.split(","):
                argv += [setting.flag, item.strip()]
        else:
            assert setting.flag, f"{setting.name} has no CLI flag"
            argv += [setting.flag, str(value)]
    return argv


@pytest.mark.parametrize("control_is_map", [False, True], ids=["photo", "map"])
def test_every_setting_round_trips_cli_png_and_values(control_is_map: bool, tmp_path: Path) -> None:
    wanted = probed_settings(control_is_map)
    changed = {setting.name for setting in SETTINGS if values_from_settings(wanted)[setting.name] != DEFAULTS[setting.name]}
    assert changed >= set(BY_NAME) - {"control_is_map"}, "each probe differs from the default"

    from_cli = settings_from_args(build_parser().parse_args(argv_for(wanted, tmp_path)))
    assert from_cli == wanted

    text = format_parameters(from_cli, from_cli.seed, ip_used=True, img2img=True, ip2_used=True)
    from_png = settings_from_parameters(text)
    expected = replace(wanted, num_images=1)  # a PNG holds one image of its batch
    if control_is_map:  # a ready map is not edge-detected: its thresholds did not act and are not written
        expected = replace(expected, canny_low=DEFAULTS["canny_low"], canny_high=DEFAULTS["canny_high"])
    assert from_png == expected

    from_values = settings_from_values(values_from_settings(from_png), seed=from_png.seed)
    assert from_values == from_png


def test_every_setting_is_somewhere_in_a_png_or_says_why_not() -> None:
    packed = {name for key in PACKED_KEYS for name in key.names}
    for setting in SETTINGS:
        assert setting.png or setting.name in packed or setting.png_group == "never", setting.name


def test_every_setting_is_a_parameter_of_both_endpoints() -> None:
    class NoEngine:
        def generate(self, *args: Any, **kwargs: Any) -> None:
            raise AssertionError("not called")

    endpoints = create_app(NoEngine(), with_examples=False).get_api_info()["named_endpoints"]
    for endpoint in ("/generate", "/compare"):
        names = [parameter["parameter_name"] for parameter in endpoints[endpoint]["parameters"]]
        assert names == list(PARAMS), endpoint
    assert set(PARAMS) >= set(BY_NAME)


def test_every_gpu_endpoint_lets_api_callers_leave_images_out() -> None:
    class NoEngine:
        def generate(self, *args: Any, **kwargs: Any) -> None:
            raise AssertionError("not called")

    endpoints = create_app(NoEngine(), with_examples=False).get_api_info()["named_endpoints"]
    for endpoint in ("/generate", "/compare", "/sweep", "/injection_maps"):
        defaults = {item["parameter_name"]: item["parameter_has_default"] for item in endpoints[endpoint]["parameters"]}
        assert all(defaults[name] for name in IMAGE_PARAMS), endpoint
