"""A further unit's setting as a sweep axis: ``controlnet-unit-2-scale=0.3,0.6`` and the like."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from PIL import Image

from ipa_demo.explore.axes import NO_AXIS, parse_axis
from ipa_demo.explore.sweep import plan, run, sweep_batches
from ipa_demo.settings.unit_keys import MASK_PRESETS
from ipa_demo.settings import ControlNetSettings, GenerationSettings, IPAdapterSettings, SettingsError
from ipa_demo.settings.units import StructureImages, UnitImages
from ipa_demo.settings.values import values_from_settings

BASE = GenerationSettings(
    prompt="a room", steps=2, width=64, height=64, ip=IPAdapterSettings(scale=0.0),
    more_controlnet_units=(ControlNetSettings("depth", 0.5),), more_ip_units=(IPAdapterSettings(scale=0.4),),
)  # fmt: skip


def _plan(x: str, y: str = "") -> list[Any]:
    return plan(values_from_settings(BASE), 3, parse_axis(x, "--x"), parse_axis(y, "--y") if y else NO_AXIS)


def test_a_unit_setting_is_an_axis_and_reaches_each_cell() -> None:
    cells = _plan("controlnet-unit-2-scale=0.3,0.6", "ip-unit-3-preset=all,style")
    assert [cell.settings.more_controlnet_units[0].scale for cell in cells] == [0.3, 0.6, 0.3, 0.6]
    assert [cell.settings.more_ip_units[0].mask for cell in cells] == [MASK_PRESETS["all"]] * 2 + [MASK_PRESETS["style"]] * 2
    assert all(cell.settings.more_controlnet_units[0].kind == "depth" for cell in cells)  # the rest stays
    assert [cell.x_label for cell in cells[:2]] == ["controlnet-unit-2-scale=0.3", "controlnet-unit-2-scale=0.6"]
    kinds = _plan("controlnet-unit-2-kind=canny,openpose")
    assert [cell.settings.more_controlnet_units[0].kind for cell in kinds] == ["canny", "openpose"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("controlnet-unit-2-scale=0.5,3", "controlnet-unit-2-scale=3: scale: must be between 0 and 2, got 3.0"),
        ("controlnet-unit-3-scale=0.5,1", "this request has no ControlNet unit 3 to sweep"),
        ("controlnet-unit-1-scale=0.5,1", "ControlNet unit 1 has its own axes (e.g. controlnet-scale)"),
        ("ip-unit-3-colour=red,blue", "'colour' is not a setting of a ip unit"),
        ("ip-unit-3-variant=plus,huge", "ip-unit-3-variant=huge: variant: must be one of"),
    ],
)  # fmt: skip
def test_a_bad_unit_axis_is_refused_naming_the_flag(spec: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        _plan(spec)
    assert caught.value.field == "--x" and message in caught.value.reason


@dataclass
class Recorder:
    calls: list[Any] = field(default_factory=list)

    def generate(self, settings, *images, on_step=None, mask_image=None, units=None):  # type: ignore[no-untyped-def]
        self.calls.append((settings, units))
        image = Image.new("RGB", (settings.width, settings.height), (int(settings.more_controlnet_units[0].scale * 200), 0, 0))
        import numpy as np

        return type("Result", (), {"images": [image], "pixels": [np.asarray(image) / 255.0], "parameters": ["p"]})()


def test_a_sweep_with_units_makes_each_cell_alone_with_the_units_images() -> None:
    cells = _plan("controlnet-unit-2-scale=0.3,0.6", "seed=1,2")
    assert all(len(batch) == 1 for batch in sweep_batches(cells, False, 4))  # no batch carries units
    units = UnitImages(controlnet=(StructureImages(map=Image.new("RGB", (64, 64))),))
    recorder = Recorder()
    result = run(recorder, cells, parse_axis("controlnet-unit-2-scale=0.3,0.6", "--x"), parse_axis("seed=1,2", "--y"),
                 batch_size=4, units=units)  # type: ignore[arg-type]  # fmt: skip
    assert len(recorder.calls) == 4 and all(given is units for _, given in recorder.calls)
    assert [cell.image.getpixel((0, 0))[0] for cell in result.cells] == [60, 120, 60, 120]
