"""Any number of units per kind: the settings hold them, the server caps them, their images travel beside."""

from __future__ import annotations

import pytest
from PIL import Image

from ipa_demo.input_budget import ImageHeader, check_budget
from ipa_demo.settings import ControlNetSettings, GenerationSettings, IPAdapterSettings, Limits, SettingsError
from ipa_demo.settings import T2IAdapterSettings, check_limits
from ipa_demo.settings.units import (
    IPUnitImages,
    StructureImages,
    UnitImages,
    check_unit_images,
    make_unit,
    unit_field,
)
from ipa_demo.zerogpu import estimate_gpu_seconds

IMAGE = Image.new("RGB", (64, 64))
CANNY = ControlNetSettings(kind="canny")


def test_the_first_units_stay_where_they_are_and_ip2_is_the_second() -> None:
    plain = GenerationSettings(prompt="")
    assert plain.ip_units == (plain.ip,)  # an idle ip2 is no unit
    second = IPAdapterSettings(scale=0.5)
    assert GenerationSettings(prompt="", ip2=second).ip_units == (plain.ip, second)
    third = IPAdapterSettings(variant="plus")
    more = GenerationSettings(prompt="", more_ip_units=(third,))
    assert more.ip_units == (plain.ip, plain.ip2, third)  # ip2 keeps its place, number 2
    assert GenerationSettings(prompt="", more_controlnet_units=(CANNY,)).controlnet_units == (plain.controlnet, CANNY)
    assert GenerationSettings(prompt="", more_t2i_units=(T2IAdapterSettings("canny"),)).t2i_units[1].kind == "canny"


def test_a_unit_of_the_wrong_kind_is_refused_by_name() -> None:
    with pytest.raises(SettingsError) as caught:
        GenerationSettings(prompt="", more_controlnet_units=(T2IAdapterSettings(),))  # type: ignore[arg-type]
    assert caught.value.field == "more_controlnet_units"
    with pytest.raises(SettingsError):
        GenerationSettings(prompt="", more_ip_units=[IPAdapterSettings()])  # type: ignore[arg-type]


def test_guess_mode_is_one_switch_for_the_request() -> None:
    settings = GenerationSettings(prompt="", controlnet=ControlNetSettings("canny", guess_mode=True))
    assert settings.guess_mode
    with pytest.raises(SettingsError) as caught:
        GenerationSettings(prompt="", more_controlnet_units=(ControlNetSettings("depth", guess_mode=True),))
    assert caught.value.field == "controlnet_unit_2" and caught.value.reason.startswith("guess_mode:")


def test_the_server_caps_the_units_of_each_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Limits().max_units == 4
    monkeypatch.setenv("IPA_MAX_UNITS", "2")
    limits = Limits.from_env()
    check_limits(GenerationSettings(prompt="", more_controlnet_units=(CANNY,)), limits)
    for settings, field in (
        (GenerationSettings(prompt="", more_controlnet_units=(CANNY, CANNY)), "controlnet_units"),
        (GenerationSettings(prompt="", more_ip_units=(IPAdapterSettings(),)), "ip_units"),
        (GenerationSettings(prompt="", more_t2i_units=(T2IAdapterSettings(),) * 2), "t2i_units"),
    ):
        with pytest.raises(SettingsError) as caught:
            check_limits(settings, limits)
        assert caught.value.field == field and "IPA_MAX_UNITS" in caught.value.reason
    monkeypatch.setenv("IPA_MAX_UNITS", "0")
    with pytest.raises(SettingsError, match="IPA_MAX_UNITS"):
        Limits.from_env()


def test_a_unit_error_names_the_unit_and_the_key() -> None:
    assert make_unit("controlnet", 2, {"kind": "depth", "scale": 0.7}) == ControlNetSettings("depth", 0.7)
    with pytest.raises(SettingsError) as caught:
        make_unit("controlnet", 2, {"kind": "canny", "scale": 3.0})
    assert caught.value.field == "controlnet_unit_2" and caught.value.reason.startswith("scale: ")
    with pytest.raises(SettingsError) as caught:
        make_unit("ip", 3, {"variant": "nonsense"})
    assert (caught.value.field, caught.value.reason.split(":")[0]) == ("ip_unit_3", "variant")
    with pytest.raises(SettingsError, match="colour"):
        make_unit("t2i", 2, {"colour": "red"})


def _units(**more: object) -> GenerationSettings:
    return GenerationSettings(prompt="", **more)  # type: ignore[arg-type]


def test_each_further_unit_needs_its_own_images() -> None:
    settings = _units(more_ip_units=(IPAdapterSettings(),), more_controlnet_units=(CANNY,), more_t2i_units=(T2IAdapterSettings("canny"),))
    good = UnitImages(ip=(IPUnitImages((IMAGE,)),), controlnet=(StructureImages(image=IMAGE, mask=IMAGE),), t2i=(StructureImages(map=IMAGE),))
    check_unit_images(settings, good)
    refusals = {
        "ip_units": UnitImages(controlnet=good.controlnet, t2i=good.t2i),
        "ip_unit_3.references": UnitImages(ip=(IPUnitImages(),), controlnet=good.controlnet, t2i=good.t2i),
        "ip_unit_3.masks": UnitImages(ip=(IPUnitImages((IMAGE,), (IMAGE, IMAGE)),), controlnet=good.controlnet, t2i=good.t2i),
        "controlnet_unit_2.image": UnitImages(ip=good.ip, controlnet=(StructureImages(),), t2i=good.t2i),
        "controlnet_unit_2": UnitImages(ip=good.ip, controlnet=(StructureImages(IMAGE, IMAGE),), t2i=good.t2i),
        "t2i_unit_2.mask": UnitImages(ip=good.ip, controlnet=good.controlnet, t2i=(StructureImages(map=IMAGE, mask=IMAGE),)),
    }  # fmt: skip
    for field, images in refusals.items():
        with pytest.raises(SettingsError) as caught:
            check_unit_images(settings, images)
        assert caught.value.field == field
    idle = _units(more_controlnet_units=(ControlNetSettings(),))
    check_unit_images(idle, UnitImages(controlnet=(StructureImages(),)))  # a unit that does not act needs nothing


def test_an_ip_unit_needs_one_reference_weight_per_reference() -> None:
    settings = _units(more_ip_units=(IPAdapterSettings(reference_weights=(1.0, 0.5)),))
    with pytest.raises(SettingsError) as caught:
        check_unit_images(settings, UnitImages(ip=(IPUnitImages((IMAGE,)),)))
    assert caught.value.field == unit_field("ip", 3) and caught.value.reason.startswith("reference-weight:")  # the key the unit is given by


def test_further_units_count_against_the_budget() -> None:
    assert UnitImages(ip=(IPUnitImages((IMAGE, IMAGE), (IMAGE,)),), controlnet=(StructureImages(IMAGE, None, IMAGE),)).count() == 5
    limits = Limits(max_references=2)
    headers = [ImageHeader("reference_images", 8, 8), ImageHeader(unit_field("ip", 3, "references"), 8, 8)]
    check_budget(headers, limits)
    with pytest.raises(SettingsError, match="at most 2 reference"):
        check_budget([*headers, ImageHeader(unit_field("ip", 4, "references"), 8, 8)], limits)


def test_units_lengthen_the_zerogpu_estimate() -> None:
    one = _units(controlnet=CANNY, steps=50)
    two = _units(controlnet=CANNY, steps=50, more_controlnet_units=(ControlNetSettings("depth"),))
    idle = _units(controlnet=CANNY, steps=50, more_controlnet_units=(ControlNetSettings(),))
    assert estimate_gpu_seconds(two) > estimate_gpu_seconds(one) == estimate_gpu_seconds(idle)
    ip = _units(steps=50, more_ip_units=(IPAdapterSettings(),) * 2)
    assert estimate_gpu_seconds(ip) > estimate_gpu_seconds(_units(steps=50))
