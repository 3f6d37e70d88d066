"""The extension's units read into what they ask for, and refused by field where we do not do it."""

from __future__ import annotations

from typing import Any

import pytest

from ipa_demo.architecture import SDXL
from ipa_demo.sdapi.errors import ApiError
from ipa_demo.sdapi.lists import find_model, sampler_of
from ipa_demo.sdapi.units import CONTROL_MODES, read_units

WHERE = "alwayson_scripts.controlnet"


def one(**fields: Any) -> Any:
    units = read_units({"args": [{"enabled": True, **fields}]}, WHERE)
    assert len(units) == 1
    return units[0]


def refusal(field: str, **fields: Any) -> str:
    with pytest.raises(ApiError) as caught:
        read_units({"args": [{"enabled": True, **fields}]}, WHERE)
    assert caught.value.status == 422 and caught.value.field == f"{WHERE}.args[0]{field}", caught.value
    return caught.value.message


def test_the_roles_a_unit_can_have() -> None:
    assert (one(module="ip-adapter_clip_sd15", model="ip-adapter-plus_sd15 [abc]").role, "plus") == ("ip", "plus")
    canny = one(module="canny", model="control_v11p_sd15_canny [d14c016b]")
    assert (canny.role, canny.kind, canny.is_map) == ("controlnet", "canny", False)
    ready = one(module="none", model="t2iadapter_depth_sd15v2")
    assert (ready.role, ready.kind, ready.is_map) == ("t2i", "depth", True)
    assert one(module="depth_anything_v2", model="control_v11f1p_sd15_depth").kind == "depth"
    assert one(module="reference_adain", model="None").kind == "adain"


def test_disabled_and_empty_units_are_skipped() -> None:
    units = read_units({"args": [{"enabled": False, "module": "canny"}, {"enabled": True, "module": "none"}]}, WHERE)
    assert units == []


def test_image_forms_and_the_deprecated_names() -> None:
    assert [image.text for image in one(module="canny", model="control_v11p_sd15_canny", input_image="AAAA").images] == ["AAAA"]
    pair = one(module="canny", model="control_v11p_sd15_canny", image=["AAAA", None])
    assert [image.text for image in pair.images] == ["AAAA"]
    several = one(module="ip-adapter-auto", model="ip-adapter_sd15", image=[{"image": "AAAA"}, {"image": "BBBB", "mask": None}])
    assert [image.field for image in several.images] == [f"{WHERE}.args[0].image[0].image", f"{WHERE}.args[0].image[1].image"]
    assert one(module="canny", model="control_v11p_sd15_canny", guidance=0.4).end == 0.4
    refusal(".guidance", module="canny", model="control_v11p_sd15_canny", guidance=0.4, guidance_end=0.5)


def test_control_and_resize_modes() -> None:
    canny = {"module": "canny", "model": "control_v11p_sd15_canny"}
    modes = {0: (False, False), 1: (False, True), 2: (True, True)}  # (guess_mode, soft), as the extension's hook
    for number, name in CONTROL_MODES.items():
        for given in (number, name):
            unit = one(**canny, control_mode=given)
            assert (unit.guess_mode, unit.soft) == modes[number]
    refusal(".control_mode", module="ip-adapter_clip_sd15", model="ip-adapter_sd15", control_mode=1)
    t2i = {"module": "canny", "model": "t2iadapter_canny_sd15v2"}
    assert one(**t2i, control_mode="My prompt is more important").soft and not one(**t2i, control_mode=0).soft
    assert "T2I-Adapter" in refusal(".control_mode", **t2i, control_mode=2)
    refusal(".control_mode", **canny, control_mode=3)
    fit = one(module="canny", model="control_v11p_sd15_canny", resize_mode="Inner Fit (Scale to Fit)")
    assert fit.resize_mode == "Crop and Resize"
    refusal(".resize_mode", module="canny", model="control_v11p_sd15_canny", resize_mode=7)


def test_what_is_refused_names_its_field() -> None:
    refusal(".module", module="lineart_anime", model="control_v11p_sd15_canny")
    refusal(".model", module="canny", model="control_v11p_sd15_lineart")
    assert "depth" in refusal(".module", module="depth", model="control_v11p_sd15_canny")
    refusal(".model", module="ip-adapter_clip_sd15", model="control_v11p_sd15_canny")
    refusal(".mask", module="canny", model="control_v11p_sd15_canny", mask="AAAA")
    refusal(".image.mask", module="canny", model="control_v11p_sd15_canny", image={"image": "AAAA", "mask": "BBBB"})
    refusal(".image", module="canny", model="control_v11p_sd15_canny", image=["AAAA", "BBBB", "CCCC"])
    refusal(".advanced_weighting", module="canny", model="control_v11p_sd15_canny", advanced_weighting=[1.0] * 13)
    refusal(".advanced_weighting", module="ip-adapter_clip_sd15", model="ip-adapter_sd15", advanced_weighting=[1.0] * 12)
    refusal(".effective_region_mask", module="canny", model="control_v11p_sd15_canny", effective_region_mask="AAAA")
    refusal(".enabled", enabled="yes")


def test_advanced_weighting_is_in_call_order_and_stands_in_for_the_weight() -> None:
    """The extension keys its IP weights by ``transformer_index``, the order the UNet calls its attention
    modules (input, middle, output: ours), and uses them instead of the unit's ``weight``."""
    weights = [float(index) / 10 for index in range(16)]
    unit = one(module="ip-adapter_clip_sd15", model="ip-adapter_sd15", weight=0.6, advanced_weighting=weights)
    assert unit.layer_weights == tuple(weights) and unit.weight == 1.0
    sdxl = one(module="ip-adapter-auto", model="ip-adapter_sdxl_vit-h", advanced_weighting=[0.0] * 6 + [1.0] + [0.0] * 4)
    assert sdxl.layer_weights == (0.0,) * 6 + (1.0,) + (0.0,) * 4
    # The extension's (and ComfyUI's) SDXL "style transfer" weights index 6 and "composition" index 3:
    # in call order those are InstantStyle's blocks, our SDXL presets.
    assert (SDXL.style, SDXL.composition) == ((6,), (3,))
    assert one(module="ip-adapter_clip_sd15", model="ip-adapter_sd15", weight=0.6).weight == 0.6


def test_model_names_and_samplers() -> None:
    assert find_model("ip-adapter_sd15.safetensors [6a3f6166]", "model").kind == "base"
    assert find_model("CONTROL_V11P_SD15_OPENPOSE", "model").kind == "openpose"
    assert sampler_of("DPM++ 2M", "Karras", ("s", "k")) == "DPM++ 2M Karras"
    assert sampler_of("DPM++ 2M Karras", "automatic", ("s", "k")) == "DPM++ 2M Karras"
    assert sampler_of("Euler a", None, ("s", "k")) == "Euler a"
