"""Injection maps: zero where the image prompt does not act, linear in λ, and free when not asked for."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from ipa_demo.architecture.layers import MASK_PRESETS, STAGES
from ipa_demo.engine import Engine
from ipa_demo.explore.grid import HEADER
from ipa_demo.explore.injection_view import injection_picture
from ipa_demo.ip_adapter.attention import KEY, IPAttention
from ipa_demo.ip_adapter.injection import InjectionRecorder
from ipa_demo.settings import GenerationSettings, IPAdapterSettings
from ipa_demo.unet_call import UNetCall

SETTINGS = GenerationSettings(prompt="a cat", seed=2, width=64, height=64, steps=4, num_images=2,
                              ip=IPAdapterSettings(scale=0.8, mask=MASK_PRESETS["style+composition"]))  # fmt: skip


def test_maps_are_zero_at_layers_off_and_the_image_is_unchanged(engine: Engine, reference: Image.Image) -> None:
    plain = engine.generate(SETTINGS, [reference])
    mapped = engine.generate(SETTINGS, [reference], injection_maps=True)
    assert plain.injection_maps is None and np.array_equal(plain.pixels, mapped.pixels)
    on = set(STAGES["down2"]) | set(STAGES["up1"])
    for layer, values in enumerate(mapped.injection_maps):
        assert values.shape[0] == 2
        assert (values.max() > 0) == (layer in on), layer


def test_maps_are_zero_outside_the_window(engine: Engine, reference: Image.Image) -> None:
    full = engine.generate(SETTINGS, [reference], injection_maps=True).injection_maps
    late = replace(SETTINGS, ip=replace(SETTINGS.ip, start=0.5))  # steps 2 and 3 of 4
    half = engine.generate(late, [reference], injection_maps=True).injection_maps
    layer = STAGES["up1"][0]
    assert 0 < half[layer].mean() < full[layer].mean()
    windowless = replace(SETTINGS, ip=replace(SETTINGS.ip, start=0.5, end=0.5))  # no step at all
    assert not any(values.any() for values in engine.generate(windowless, [reference], injection_maps=True).injection_maps)


@pytest.mark.parametrize("layer", [0, 6, 9, 15])
def test_maps_scale_linearly_with_lambda_at_a_fixed_step(engine: Engine, layer: int) -> None:
    """With one layer on, its input is the same whatever λ (no branch before it): its map is λ-linear."""
    generator = torch.Generator().manual_seed(3)
    latents, text = torch.randn(2, 4, 8, 8, generator=generator), torch.randn(2, 77, 32, generator=generator)
    tokens = torch.randn(2, 4, 32, generator=generator)
    maps = []
    for scale in (0.5, 1.5):
        recorder = InjectionRecorder.for_batch((8, 8), num_images=1, guided=True)
        scales = tuple(scale if index == layer else 0.0 for index in range(16))
        UNetCall(latents, text, {KEY: (IPAttention(engine.ip_adapter("base"), tokens, scales, recorder=recorder),)}).run(
            engine.models.unet, torch.tensor(500)
        )
        maps.append(recorder.maps(steps=1)[layer])
    np.testing.assert_allclose(maps[1], 3 * maps[0], rtol=1e-5)
    assert maps[0].min() > 0


def test_the_picture_has_a_tile_per_stage_and_the_overlay(engine: Engine, reference: Image.Image) -> None:
    result = engine.generate(replace(SETTINGS, width=96), [reference], injection_maps=True)
    picture = injection_picture(result.injection_maps, result.images[1], index=1)
    tile_height = round(128 * 64 / 96)
    assert picture.size == (4 * 128, 2 * (HEADER + tile_height))  # going in above, coming out and the total below


def test_the_explore_tab_shows_the_maps(engine: Engine, tmp_path, reference: Image.Image) -> None:
    import gradio as gr

    from ipa_demo.settings import Limits
    from ipa_demo.settings.values import values_from_settings
    from ipa_demo.ui.explore import InjectionMaps
    from ipa_demo.ui.handlers import Handlers
    from ipa_demo.ui.outputs import OutputStore

    reference.save(tmp_path / "ref.png")
    shower = InjectionMaps(Handlers(engine, OutputStore(tmp_path / "out"), Limits()))
    values = {**values_from_settings(replace(SETTINGS, steps=2)), "seed": 4}
    *_, (picture, note) = shower.injection_maps(gr.Progress(), reference_images=[(str(tmp_path / "ref.png"), None)], **values)
    assert Image.open(picture).width == 4 * 128 and "Seed 4" in note
    off = {**values, "ip_scale": 0.0}
    with pytest.raises(gr.Error, match="nothing to map"):
        list(shower.injection_maps(gr.Progress(), reference_images=[(str(tmp_path / "ref.png"), None)], **off))


def test_maps_have_each_stages_size_when_the_latents_are_odd(engine: Engine, reference: Image.Image) -> None:
    """72 px: 9² latents, which the UNet's stride-2 convolutions take to 5², 3², 2² (rounding up)."""
    settings = replace(SETTINGS, width=72, height=72, num_images=1, steps=2)
    maps = engine.generate(settings, [reference], injection_maps=True).injection_maps
    architecture = engine.models.architecture
    sides = [architecture.feature_side(architecture.stage(stage), 72) for stage in architecture.stage_of_module]
    assert [values.shape for values in maps] == [(1, side, side) for side in sides]
    assert sorted(set(sides)) == [2, 3, 5, 9]
