"""Units in the PNG's text as the A1111 ControlNet extension writes them, read back by us; old texts unchanged."""

from __future__ import annotations

import gc
import time
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipa_demo.settings.unit_keys import STAGE_NAMES
from ipa_demo.models.control_names import model_by_title
from ipa_demo.settings import ControlNetSettings, GenerationSettings, IPAdapterSettings, SettingsError, T2IAdapterSettings
from ipa_demo.settings.parameters import format_parameters, parse_parameters, settings_from_parameters
from ipa_demo.settings.unit_keys import UNIT_KEYS
from ipa_demo.settings.units import UNIT_KINDS, make_unit

from .test_parameters import any_settings, value_of

SEVERAL = GenerationSettings(
    prompt="a room", seed=7,
    controlnet=ControlNetSettings("canny", 0.9, 0.1, 0.9, guess_mode=True),
    t2i=T2IAdapterSettings("depth", 0.4, 0.6),
    more_controlnet_units=(ControlNetSettings("depth", 0.7, 0.0, 0.8), ControlNetSettings("openpose", 0.5, 0.2, 1.0)),
    more_t2i_units=(T2IAdapterSettings("canny", 0.8, 0.5), T2IAdapterSettings("openpose", 1.25, 1.0)),
    more_ip_units=(
        IPAdapterSettings(scale=0.6, variant="plus-face", mask="0000110111000000", end=0.75),
        IPAdapterSettings(scale=1.1, variant="plus", layer_weights=tuple(index / 10 for index in range(16)),
                          reference_weights=(1.0, 0.333), combine="concat", fit="pad"),
        IPAdapterSettings(scale=0.0, stage_weights=(0.5, 1.0, 2.0, 0.0, 1.0, 1.5, 3.0)),
    ),
)  # fmt: skip


def _extension_reads(entry: str) -> dict[str, str]:
    """The extension's own reading of a unit (``infotext.parse_unit``): split on ",", then each item on ": "."""
    fields = {}
    for item in entry.split(","):
        key, value = item.strip().split(": ")  # exactly one ": " per item, or the extension drops the unit
        fields["_".join(word.lower() for word in key.split(" "))] = value
    return fields


def test_several_units_of_each_kind_round_trip() -> None:
    text = format_parameters(SEVERAL, SEVERAL.seed, ip_used=True, img2img=False)
    assert settings_from_parameters(text) == SEVERAL


def test_every_unit_is_an_entry_the_extension_reads() -> None:
    pairs = parse_parameters(format_parameters(SEVERAL, 7, ip_used=True, img2img=False)).pairs
    entries = [_extension_reads(pairs[f"ControlNet {index}"]) for index in range(10)]
    assert "ControlNet 10" not in pairs  # 3 ControlNets, 3 T2I, the first IP unit and 3 more (ip2 did not act)
    first = entries[0]
    assert (first["module"], first["weight"], first["guidance_start"], first["guidance_end"]) == ("canny", "0.9", "0.1", "0.9")
    assert first["model"].startswith("control_v11p_sd15_canny [") and first["control_mode"] == "ControlNet is more important"
    assert (first["threshold_a"], first["threshold_b"]) == ("100", "200")
    depth = entries[1]
    assert model_by_title(depth["model"]).kind == "depth" and depth["guidance_end"] == "0.8"
    kinds = [(model_by_title(entry["model"]).role, model_by_title(entry["model"]).kind) for entry in entries]
    assert kinds == [("controlnet", "canny"), ("controlnet", "depth"), ("controlnet", "openpose"), ("t2i", "depth"),
                     ("t2i", "canny"), ("t2i", "openpose"), ("ip", "base"), ("ip", "plus-face"), ("ip", "plus"),
                     ("ip", "base")]  # fmt: skip
    face = entries[7]
    assert face["module"] == "ip-adapter_clip_sd15" and face["ip_layers"] == "0000110111000000" and face["guidance_end"] == "0.75"
    assert entries[8]["ip_weights"].split()[:3] == ["0", "0.1", "0.2"] and entries[8]["resize_mode"] == "Resize and Fill"


def test_a_control_map_is_module_none_and_carries_no_thresholds() -> None:
    mapped = replace(SEVERAL, control_is_map=True)
    pairs = parse_parameters(format_parameters(mapped, 7, ip_used=False, img2img=False)).pairs
    first = _extension_reads(pairs["ControlNet 0"])
    assert first["module"] == "none" and "threshold_a" not in first
    assert settings_from_parameters(format_parameters(mapped, 7, ip_used=False, img2img=False)).more_ip_units == SEVERAL.more_ip_units


def test_a_further_units_ready_map_is_module_none_and_reads_back_as_a_map() -> None:
    """As the extension writes a unit that got no preprocessor; the photo's units keep their module."""
    mapped = replace(SEVERAL, more_controlnet_units=(ControlNetSettings("canny", 0.7, is_map=True), SEVERAL.more_controlnet_units[1]),
                     more_t2i_units=(T2IAdapterSettings("depth", 0.8, 0.5, is_map=True), SEVERAL.more_t2i_units[1]))  # fmt: skip
    text = format_parameters(mapped, 7, ip_used=False, img2img=False)
    pairs = parse_parameters(text).pairs
    entries = {fields["unit"]: fields for fields in (_extension_reads(pairs[f"ControlNet {index}"]) for index in range(6))}
    assert entries["controlnet 2"]["module"] == "none" and "threshold_a" not in entries["controlnet 2"]
    assert (entries["controlnet 3"]["module"], entries["t2i 2"]["module"], entries["t2i 3"]["module"]) == ("openpose", "none", "openpose")
    assert entries["controlnet 1"]["module"] == "canny"  # the first unit's photo: control_is_map is off
    read = settings_from_parameters(text)
    assert (read.more_controlnet_units, read.more_t2i_units) == (mapped.more_controlnet_units, mapped.more_t2i_units)


def test_a_text_without_units_reads_as_before_and_the_extensions_own_entries_are_not_ours() -> None:
    old = "a cat\nNegative prompt: \nSteps: 20, Seed: 3, ControlNet: canny, ControlNet scale: 0.5"
    a1111 = old + ', ControlNet 0: "Module: lineart, Model: control_v11p_sd15_lineart [5c23b17d], Weight: 1"'
    assert settings_from_parameters(a1111) == settings_from_parameters(old)
    assert settings_from_parameters(old).more_controlnet_units == ()


@pytest.mark.parametrize(
    ("entry", "field", "reason"),
    [
        ("Module: canny, Model: control_v11p_sd15_canny, Weight: 3, Unit: controlnet 2", "controlnet_unit_2",
         "scale: must be between 0 and 2, got 3"),
        ("Module: canny, Model: t2iadapter_canny_sd15v2, Unit: controlnet 2", "controlnet_unit_2", "Model: "),
        ("Module: canny, Model: control_v11p_sd15_canny, Unit: controlnet 3", "controlnet_units", "numbered [3]"),
        ("Module: ip, Model: ip-adapter_sd15, IP Layers: 0101, Unit: ip 3", "ip_unit_3", "layers: must be one 0 or 1 per attention module (16 on SD 1.5, 11 on SDXL)"),
        ("Module: ip, Model: ip-adapter_sd15, IP Stages: top=2, Unit: ip 3", "ip_unit_3", "stage-top: no such key"),
    ],
)  # fmt: skip
def test_a_bad_entry_is_refused_naming_the_unit(entry: str, field: str, reason: str) -> None:
    text = f'a cat\nNegative prompt: \nSteps: 20, ControlNet 0: "{entry}"'
    with pytest.raises(SettingsError) as caught:
        settings_from_parameters(text)
    assert caught.value.field == field and reason in caught.value.reason


def test_reading_the_entries_is_linear() -> None:
    def seconds(count: int) -> float:
        entry = "Module: canny, " + "Weight: 1, " * count + "Unit: t2i 9"
        text = f'a\nNegative prompt: \nSteps: 2, ControlNet 0: "{entry}"'
        gc.collect()
        gc.disable()  # a collection landing in one run only is noise, not growth
        began = time.perf_counter()
        with pytest.raises(SettingsError):
            settings_from_parameters(parse_parameters(text, max_chars=len(text)))
        spent = time.perf_counter() - began
        gc.enable()
        return spent

    runs = [(seconds(10_000), seconds(40_000)) for _ in range(5)]  # interleaved: a busy spell hits both sizes
    small, large = min(run[0] for run in runs), min(run[1] for run in runs)
    assert large < 10 * small  # linear grows 4x, quadratic 16x


@st.composite
def any_unit(draw: st.DrawFn, kind: str) -> Any:
    attributes: dict[str, Any] = {}
    stages = list(IPAdapterSettings().stage_weights)
    for spec in UNIT_KEYS[kind].values():  # type: ignore[index]
        value = draw(value_of(spec.setting))
        if spec.index is not None:
            stages[spec.index] = value
        else:
            attributes[spec.attribute] = value
    if kind == "ip":
        attributes["stage_weights"] = tuple(stages)
    else:
        attributes["is_map"] = draw(st.booleans())
    if "start" in attributes:
        attributes["start"], attributes["end"] = sorted((attributes["start"], attributes["end"]))
    return make_unit(kind, 9, attributes)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_settings(), *(st.lists(any_unit(kind), max_size=3).map(tuple) for kind in UNIT_KINDS))
def test_any_further_units_round_trip(original: GenerationSettings, ip: tuple, controlnet: tuple, t2i: tuple) -> None:
    first = replace(original, controlnet=replace(original.controlnet, guess_mode=False))
    more = replace(first, more_ip_units=ip, more_controlnet_units=controlnet, more_t2i_units=t2i)
    text = format_parameters(more, more.seed, ip_used=True, img2img=True, ip2_used=True)
    read = settings_from_parameters(text)
    assert (read.more_ip_units, read.more_controlnet_units, read.more_t2i_units) == (ip, controlnet, t2i), text
    assert replace(read, more_ip_units=(), more_controlnet_units=(), more_t2i_units=()) == settings_from_parameters(
        format_parameters(first, first.seed, ip_used=True, img2img=True, ip2_used=True))  # fmt: skip
    assert len(STAGE_NAMES) == len(read.ip.stage_weights)
