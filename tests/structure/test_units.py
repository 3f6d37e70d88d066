"""Several units of each kind at once (issue 24): parity with diffusers' multi-unit pipelines, and invariants."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from diffusers.image_processor import IPAdapterMaskProcessor
from PIL import Image

from ipa_demo.engine import Engine
from ipa_demo.ip_adapter.inputs import MoreReferences
from ipa_demo.settings import ControlNetSettings, GenerationSettings, IPAdapterSettings, SettingsError, T2IAdapterSettings
from ipa_demo.settings.parameters import settings_from_parameters
from ipa_demo.settings.units import IPUnitImages, StructureImages, UnitImages

from ..helpers import noise_image
from ..reference_pipelines import ReferencePipeline

TOLERANCE = 1e-4
SIZE = 64
BASE = GenerationSettings(
    prompt="a room with a window",
    negative_prompt="blurry",
    seed=7,
    width=SIZE,
    height=SIZE,
    steps=3,
    guidance=6.0,
    scheduler="Euler a",
    control_is_map=True,
    ip=IPAdapterSettings(scale=0.0),
)
CANNY = ControlNetSettings("canny", scale=0.9, start=0.0, end=0.7)
DEPTH = ControlNetSettings("depth", scale=0.6, start=0.3, end=1.0)


def edges() -> Image.Image:
    pixels = np.zeros((SIZE, SIZE, 3), dtype=np.uint8)
    pixels[10:13, :] = 255
    pixels[:, 40:43] = 255
    return Image.fromarray(pixels)


def depth_ramp() -> Image.Image:
    ramp = np.repeat(np.linspace(0, 255, SIZE, dtype=np.uint8)[None, :, None], SIZE, axis=0)
    return Image.fromarray(np.repeat(ramp, 3, axis=2))


def half_mask(fill: tuple[int, int, int, int] = (0, 0, SIZE // 2, SIZE)) -> Image.Image:
    mask = Image.new("L", (SIZE, SIZE), 0)
    mask.paste(255, fill)
    return mask


def biggest_difference(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.abs(ours - theirs).max())


@pytest.fixture(scope="module")
def three_adapters(tiny_models_dir: Path) -> ReferencePipeline:
    return ReferencePipeline.load(tiny_models_dir, ["base", "plus", "plus-face"])


@pytest.fixture(scope="module")
def plain_pipeline(tiny_models_dir: Path) -> ReferencePipeline:
    return ReferencePipeline.load(tiny_models_dir)


def test_two_controlnets_and_three_ip_units_equal_diffusers(engine: Engine, three_adapters, reference) -> None:
    second, third = noise_image(72, 72, seed=11), noise_image(80, 64, seed=12)
    mask = half_mask()
    settings = replace(
        BASE,
        controlnet=CANNY,
        more_controlnet_units=(DEPTH,),
        ip=IPAdapterSettings(scale=0.7, variant="base"),
        ip2=IPAdapterSettings(scale=0.5, variant="plus"),
        more_ip_units=(IPAdapterSettings(scale=0.8, variant="plus-face"),),
    )
    units = UnitImages(ip=(IPUnitImages((third,), (mask,)),), controlnet=(StructureImages(map=depth_ramp()),))
    more = MoreReferences(ip2_references=(second,))
    ours = engine.generate(settings, [reference], control_image=edges(), more=more, units=units).pixels
    masks = IPAdapterMaskProcessor().preprocess([mask], height=SIZE, width=SIZE).reshape(1, 1, SIZE, SIZE)
    theirs = three_adapters.run(
        settings,
        ip_scale=[0.7, 0.5, 0.8],
        ip_adapter_image=[reference, second, [third]],
        cross_attention_kwargs={"ip_adapter_masks": [None, None, masks]},
        controlnet=[engine.controlnet("canny"), engine.controlnet("depth")],
        control_map=[edges(), depth_ramp()],
    )
    assert biggest_difference(ours, theirs) <= TOLERANCE
    alone = engine.generate(replace(settings, more_ip_units=()), [reference], control_image=edges(), more=more,
                            units=replace(units, ip=())).pixels  # fmt: skip
    assert biggest_difference(ours, alone) > 0.01, "the third IP unit should act"


def test_two_t2i_adapters_equal_diffusers_multi_adapter(engine: Engine, plain_pipeline) -> None:
    settings = replace(BASE, t2i=T2IAdapterSettings("canny", scale=0.8), more_t2i_units=(T2IAdapterSettings("depth", scale=0.5),))
    units = UnitImages(t2i=(StructureImages(map=depth_ramp()),))
    ours = engine.generate(settings, control_image=edges(), units=units).pixels
    adapters = [engine.t2i_adapter("canny"), engine.t2i_adapter("depth")]
    # diffusers takes the maps as given: the canny adapter reads one channel.
    given = [image.convert("L") if adapter.config.in_channels == 1 else image for adapter, image in zip(adapters, [edges(), depth_ramp()])]
    theirs = plain_pipeline.run(settings, adapter=adapters, control_map=given)
    assert biggest_difference(ours, theirs) <= TOLERANCE


def test_a_later_t2i_unit_keeps_its_own_window(engine: Engine) -> None:
    first = replace(BASE, t2i=T2IAdapterSettings("canny", scale=0.8))
    idle = replace(first, more_t2i_units=(T2IAdapterSettings("depth", factor=0.0),))
    units = UnitImages(t2i=(StructureImages(map=depth_ramp()),))
    alone = engine.generate(first, control_image=edges()).pixels
    assert np.array_equal(engine.generate(idle, control_image=edges(), units=units).pixels, alone)
    acting = replace(first, more_t2i_units=(T2IAdapterSettings("depth", factor=0.5),))
    assert biggest_difference(engine.generate(acting, control_image=edges(), units=units).pixels, alone) > 0.01


@pytest.fixture(scope="module")
def canny_runs(engine: Engine) -> dict[str, np.ndarray]:
    on = replace(BASE, controlnet=CANNY)
    runs = {
        "off": (BASE, UnitImages()),
        "on": (on, UnitImages()),
        "white": (on, UnitImages(controlnet_mask=Image.new("L", (SIZE, SIZE), 255))),
        "black": (on, UnitImages(controlnet_mask=Image.new("L", (SIZE, SIZE), 0))),
        "half": (on, UnitImages(controlnet_mask=half_mask())),
    }
    return {name: engine.generate(settings, control_image=edges(), units=units).pixels for name, (settings, units) in runs.items()}


def test_an_all_white_region_is_no_region_and_all_black_is_no_controlnet(canny_runs) -> None:
    assert np.array_equal(canny_runs["white"], canny_runs["on"])
    assert np.array_equal(canny_runs["black"], canny_runs["off"])
    assert biggest_difference(canny_runs["on"], canny_runs["off"]) > 0.01, "the ControlNet should act"


def test_a_region_keeps_the_controlnet_to_its_part(canny_runs) -> None:
    assert biggest_difference(canny_runs["half"], canny_runs["on"]) > 0.01
    assert biggest_difference(canny_runs["half"], canny_runs["off"]) > 0.01


def test_a_black_region_on_a_further_unit_leaves_the_first_alone(engine: Engine) -> None:
    first = replace(BASE, controlnet=CANNY)
    black = UnitImages(controlnet=(StructureImages(map=depth_ramp(), mask=Image.new("L", (SIZE, SIZE), 0)),))
    both = replace(first, more_controlnet_units=(DEPTH,))
    alone = engine.generate(first, control_image=edges()).pixels
    assert np.array_equal(engine.generate(both, control_image=edges(), units=black).pixels, alone)


@pytest.mark.parametrize("kind", ["controlnet", "t2i"])
def test_each_map_reaches_its_own_unit(engine: Engine, kind: str) -> None:
    """Swap the two units' maps: the output changes (the tiny conditioners respond to their maps)."""
    if kind == "controlnet":
        settings = replace(BASE, controlnet=ControlNetSettings("canny"), more_controlnet_units=(ControlNetSettings("depth", 0.5),))
    else:
        settings = replace(BASE, t2i=T2IAdapterSettings("canny"), more_t2i_units=(T2IAdapterSettings("depth", 0.5),))

    def run(first: Image.Image, further: Image.Image) -> np.ndarray:
        units = UnitImages(**{kind: (StructureImages(map=further),)})  # type: ignore[arg-type]
        return engine.generate(settings, control_image=first, units=units).pixels

    assert biggest_difference(run(edges(), depth_ramp()), run(depth_ramp(), edges())) > 0.01


def test_further_maps_come_back_under_their_units_names(engine: Engine) -> None:
    settings = replace(BASE, control_is_map=False, controlnet=CANNY, more_controlnet_units=(ControlNetSettings("canny"),))
    result = engine.generate(settings, control_image=edges(), units=UnitImages(controlnet=(StructureImages(map=depth_ramp()),)))
    assert set(result.control_maps) == {"canny", "controlnet_unit_2-canny"}
    assert np.array_equal(np.asarray(result.control_maps["controlnet_unit_2-canny"]), np.asarray(depth_ramp()))
    # The PNG says what ran: the first unit's photo went through canny, unit 2's map through nothing.
    modules = re.findall(r"Module: (\w+), Model: control_v11p_sd15_canny", result.parameters[0])
    assert modules == ["canny", "none"], result.parameters[0]
    assert settings_from_parameters(result.parameters[0]).more_controlnet_units == (ControlNetSettings("canny", is_map=True),)


def test_the_engine_refuses_further_units_without_their_images_before_running(engine: Engine) -> None:
    loads = engine.loads
    with pytest.raises(SettingsError) as caught:
        engine.generate(replace(BASE, more_controlnet_units=(ControlNetSettings("openpose"),)))
    assert caught.value.field == "controlnet_units" and engine.loads == loads
    with pytest.raises(SettingsError) as caught:
        engine.generate(replace(BASE, more_t2i_units=(T2IAdapterSettings("openpose"),)), units=UnitImages(t2i=(StructureImages(),)))
    assert caught.value.field == "t2i_unit_2.image" and engine.loads == loads
