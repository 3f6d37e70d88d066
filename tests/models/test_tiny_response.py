"""Every tiny conditioner responds to its input, so a parity test on it can fail.

A parity test (max |Δ| ≤ 1e-4 against diffusers) proves nothing about an input the model ignores:
with default-initialised tiny weights an edge map and a blank map gave identical pixels, and two
references for reference-only gave outputs 1/255 apart. Each test here holds a gap, at scale 1 on
a 64² txt2img, far above any tolerance (0-255 scale, max over pixels); ``tiny_response`` says why
each model responds.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import (
    MultiAdapter,
    MultiControlNetModel,
    StableDiffusionAdapterPipeline,
    StableDiffusionControlNetPipeline,
)
from PIL import Image, ImageDraw

from ipa_demo.engine import Engine
from ipa_demo.ip_adapter.inputs import MoreReferences
from ipa_demo.models.catalog import IP_ADAPTERS
from ipa_demo.settings import (
    ControlNetSettings,
    GenerationSettings,
    IPAdapterSettings,
    ReferenceOnlySettings,
    T2IAdapterSettings,
)

from ..reference_pipelines import ReferencePipeline

SIZE = 64
BASE = GenerationSettings(
    prompt="a house by a lake",
    negative_prompt="blurry",
    seed=21,
    width=SIZE,
    height=SIZE,
    steps=4,
    guidance=6.0,
    scheduler="Euler a",
    control_is_map=True,
    ip=IPAdapterSettings(scale=0.0),
)
DARK = Image.new("RGB", (96, 72), (20, 20, 30))
YELLOW = Image.new("RGB", (96, 72), (240, 220, 30))


def edges() -> Image.Image:
    """A ready map: white strokes on black, as a canny map is."""
    drawing = Image.new("RGB", (SIZE, SIZE))
    pen = ImageDraw.Draw(drawing)
    pen.rectangle((12, 12, 50, 44), outline=(255, 255, 255), width=2)
    pen.line((0, 60, 63, 20), fill=(255, 255, 255), width=2)
    return drawing


def circles() -> Image.Image:
    drawing = Image.new("RGB", (SIZE, SIZE))
    pen = ImageDraw.Draw(drawing)
    pen.ellipse((6, 30, 30, 58), outline=(255, 255, 255), width=2)
    pen.ellipse((34, 4, 60, 28), fill=(160, 160, 160))
    return drawing


BLANK = Image.new("RGB", (SIZE, SIZE))


def gap(first: np.ndarray, second: np.ndarray) -> float:
    """Max |Δ| over pixels, on the 0-255 scale."""
    return float(np.abs(first - second).max()) * 255


def pixels(engine: Engine, settings: GenerationSettings, references=(), **images) -> np.ndarray:
    return engine.generate(settings, list(references), **images).pixels


@pytest.mark.parametrize("kind", ["canny", "depth", "openpose"])
def test_each_controlnet_follows_its_map(engine: Engine, kind: str) -> None:
    settings = replace(BASE, controlnet=ControlNetSettings(kind=kind, scale=1.0))
    assert gap(pixels(engine, settings, control_image=edges()), pixels(engine, settings, control_image=BLANK)) >= 30


@pytest.mark.parametrize("kind", ["canny", "depth", "openpose"])
def test_each_t2i_adapter_follows_its_map(engine: Engine, kind: str) -> None:
    settings = replace(BASE, t2i=T2IAdapterSettings(kind=kind, scale=1.0))
    assert gap(pixels(engine, settings, control_image=edges()), pixels(engine, settings, control_image=BLANK)) >= 20


@pytest.mark.parametrize("variant", list(IP_ADAPTERS))
def test_each_ip_adapter_variant_follows_its_reference(engine: Engine, variant: str) -> None:
    settings = replace(BASE, ip=IPAdapterSettings(scale=1.0, variant=variant))
    assert gap(pixels(engine, settings, [DARK]), pixels(engine, settings, [YELLOW])) >= 20


@pytest.mark.parametrize("mode", ["attn", "adain", "attn+adain"])
def test_each_reference_only_mode_follows_its_reference(engine: Engine, mode: str) -> None:
    settings = replace(BASE, reference_only=ReferenceOnlySettings(mode=mode))
    assert gap(pixels(engine, settings, [DARK]), pixels(engine, settings, [YELLOW])) >= 20


def test_reference_only_attention_follows_where_things_are(engine: Engine) -> None:
    """The same colours elsewhere: a reference read at the wrong place (flipped, mis-cropped) shows."""
    left = Image.new("RGB", (SIZE, SIZE), (20, 20, 30))
    ImageDraw.Draw(left).rectangle((0, 0, SIZE // 2, SIZE), fill=(240, 220, 30))
    settings = replace(BASE, reference_only=ReferenceOnlySettings(mode="attn"))
    flipped = left.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    assert gap(pixels(engine, settings, [left]), pixels(engine, settings, [flipped])) >= 20


def test_a_region_mask_decides_where_the_reference_acts(engine: Engine) -> None:
    settings = replace(BASE, ip=IPAdapterSettings(scale=1.0))
    everywhere = MoreReferences(reference_masks=(Image.new("L", (SIZE, SIZE), 255),))
    nowhere = MoreReferences(reference_masks=(Image.new("L", (SIZE, SIZE), 0),))
    unmasked = pixels(engine, settings, [YELLOW], more=everywhere)
    assert gap(unmasked, pixels(engine, settings, [YELLOW], more=nowhere)) >= 20


def test_swapping_the_maps_of_two_structure_units_shows(engine: Engine) -> None:
    """Our one ControlNet and one T2I-Adapter: each unit's map matters, so a swap would show."""
    settings = replace(BASE, controlnet=ControlNetSettings(kind="canny"), t2i=T2IAdapterSettings(kind="depth"))
    first = pixels(engine, replace(settings, t2i=T2IAdapterSettings()), control_image=edges())
    second = pixels(engine, replace(settings, t2i=T2IAdapterSettings()), control_image=circles())
    assert gap(first, second) >= 30
    first = pixels(engine, replace(settings, controlnet=ControlNetSettings()), control_image=edges())
    second = pixels(engine, replace(settings, controlnet=ControlNetSettings()), control_image=circles())
    assert gap(first, second) >= 20


@pytest.fixture(scope="module")
def stock(tiny_models_dir: Path) -> ReferencePipeline:
    return ReferencePipeline.load(tiny_models_dir)


def swapped_gap(pipe, **scales: list[float]) -> float:
    """diffusers given two units' maps, then the same maps swapped."""

    def run(maps: list[Image.Image]) -> np.ndarray:
        return pipe(
            BASE.prompt,
            image=maps,
            height=SIZE,
            width=SIZE,
            num_inference_steps=BASE.steps,
            generator=torch.Generator().manual_seed(0),
            output_type="np",
            **scales,
        ).images

    return gap(run([edges(), circles()]), run([circles(), edges()]))


def test_diffusers_multi_controlnet_tells_which_map_went_to_which_unit(engine: Engine, stock) -> None:
    """What the multi-unit parity test relies on: canny + depth given two maps, and given them swapped."""
    units = MultiControlNetModel([engine.controlnet("canny"), engine.controlnet("depth")])
    pipe = stock.with_class(StableDiffusionControlNetPipeline, controlnet=units)
    assert swapped_gap(pipe, controlnet_conditioning_scale=[1.0, 1.0]) >= 30


def test_diffusers_multi_adapter_tells_which_map_went_to_which_unit(engine: Engine, stock) -> None:
    units = MultiAdapter([engine.t2i_adapter("depth"), engine.t2i_adapter("openpose")])
    pipe = stock.with_class(StableDiffusionAdapterPipeline, adapter=units)
    assert swapped_gap(pipe, adapter_conditioning_scale=[1.0, 1.0]) >= 20
