"""References, fully (issue 14): parity with diffusers' IP-Adapter on the tiny set, and invariants."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers.image_processor import IPAdapterMaskProcessor
from PIL import Image

from ipa_demo.architecture.layers import MASK_PRESETS, WEIGHT_CURVES, diffusers_scale_dict, weights_from_mask
from ipa_demo.engine import Engine
from ipa_demo.ip_adapter.inputs import MoreReferences
from ipa_demo.settings import IPAdapterSettings

from ..helpers import noise_image
from ..reference_pipelines import ReferencePipeline
from ..test_loop import TOLERANCE, settings_for

SCHEDULERS = ("DPM++ 2M Karras", "Euler a")
LAYER_WEIGHTS = (0.0, 0.3, 1.2, 2.5, 0.7, 0.0, 1.0, 3.0, 0.2, 0.9, 1.5, 0.4, 0.0, 2.0, 1.1, 0.6)


def biggest_difference(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.abs(ours - theirs).max())


@pytest.fixture(scope="module")
def base_pipe(tiny_models_dir: Path) -> ReferencePipeline:
    return ReferencePipeline.load(tiny_models_dir, "base")


# --- 1. per-layer float weights ---------------------------------------------------------------


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_per_layer_weights_equal_diffusers_per_block_lists(
    engine: Engine, base_pipe: ReferencePipeline, reference, scheduler: str
) -> None:
    settings = settings_for(scheduler, scale=0.8, layer_weights=LAYER_WEIGHTS)
    ours = engine.generate(settings, [reference]).pixels
    theirs = base_pipe.run(settings, ip_scale=diffusers_scale_dict(settings.ip.layer_scales), reference=reference)
    assert biggest_difference(ours, theirs) <= TOLERANCE
    uniform = base_pipe.run(settings, ip_scale=0.8, reference=reference)
    assert biggest_difference(ours, uniform) > 0.01, "the weights should change the image"


def test_weights_override_the_mask_and_the_mask_is_their_shorthand(engine: Engine, reference) -> None:
    stages = (1.0, 0.5, 2.0, 0.0, 1.5, 1.0, 0.25)
    shorthand = settings_for("Euler a", scale=0.9, mask=MASK_PRESETS["style+composition"], stage_weights=stages)
    explicit = replace(shorthand, ip=replace(shorthand.ip, layer_weights=weights_from_mask(shorthand.ip.mask, stages)))
    overridden = replace(shorthand, ip=replace(shorthand.ip, layer_weights=WEIGHT_CURVES["ease in"]))
    pixels = [engine.generate(settings, [reference]).pixels for settings in (shorthand, explicit, overridden)]
    assert np.array_equal(pixels[0], pixels[1])
    assert biggest_difference(pixels[0], pixels[2]) > 0.01


# --- 4. a negative image -------------------------------------------------------------------------


def diffusers_embeds(pipe: ReferencePipeline, images: list, hidden_states: bool) -> torch.Tensor:
    """(1, images, ...) encodings as diffusers' pipeline makes them for ``ip_adapter_image_embeds``."""
    with torch.no_grad():
        return torch.cat([pipe.pipe.encode_image(image, "cpu", 1, hidden_states)[0] for image in images])[None]


@pytest.fixture(scope="module")
def plus_pipe(tiny_models_dir: Path) -> ReferencePipeline:
    return ReferencePipeline.load(tiny_models_dir, "plus")


@pytest.fixture(scope="module")
def negative() -> Image.Image:
    return noise_image(64, 88, seed=21)


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("variant", ["base", "plus"])
def test_negative_image_equals_diffusers_given_its_embeds(
    engine: Engine, base_pipe, plus_pipe, reference, negative, scheduler: str, variant: str
) -> None:
    pipe = base_pipe if variant == "base" else plus_pipe
    settings = settings_for(scheduler, scale=0.8, variant=variant)
    ours = engine.generate(settings, [reference], more=MoreReferences(negative_reference=negative)).pixels
    hidden = variant == "plus"
    embeds = torch.cat([diffusers_embeds(pipe, [negative], hidden), diffusers_embeds(pipe, [reference], hidden)])
    theirs = pipe.run(settings, ip_scale=0.8, ip_adapter_image_embeds=[embeds])
    assert biggest_difference(ours, theirs) <= TOLERANCE
    zero_negative = engine.generate(settings, [reference]).pixels
    assert biggest_difference(ours, zero_negative) > 0.01, "the negative image should change the image"


# --- 2. per-reference weights and the combine mode ------------------------------------------------


@pytest.fixture(scope="module")
def second() -> Image.Image:
    """Far from the noise reference in CLIP space, so that how the two combine shows in the image."""
    return Image.new("RGB", (72, 96), (230, 40, 20))


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("variant", ["base", "plus"])
def test_concat_equals_diffusers_given_a_list_of_images(
    engine: Engine, base_pipe, plus_pipe, reference, second, scheduler: str, variant: str
) -> None:
    pipe = base_pipe if variant == "base" else plus_pipe
    settings = settings_for(scheduler, scale=0.8, variant=variant, combine="concat")
    ours = engine.generate(settings, [reference, second]).pixels
    theirs = pipe.run(settings, ip_scale=0.8, ip_adapter_image=[[reference, second]])
    assert biggest_difference(ours, theirs) <= TOLERANCE
    averaged = engine.generate(replace(settings, ip=replace(settings.ip, combine="average")), [reference, second])
    assert biggest_difference(ours, averaged.pixels) > 0.01, "concat and average should differ"


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_a_concat_weight_counts_as_copies_of_the_reference(
    engine: Engine, base_pipe, reference, second, scheduler: str
) -> None:
    settings = settings_for(scheduler, scale=0.8, combine="concat", reference_weights=(2.0, 1.0))
    ours = engine.generate(settings, [reference, second]).pixels
    theirs = base_pipe.run(settings, ip_scale=0.8, ip_adapter_image=[[reference, reference, second]])
    assert biggest_difference(ours, theirs) <= TOLERANCE


@pytest.mark.parametrize("combine", ["average", "concat"])
def test_weight_zero_is_the_same_as_leaving_the_reference_out(engine: Engine, reference, second, combine) -> None:
    settings = settings_for("Euler a", scale=0.8, combine=combine)
    without = engine.generate(settings, [reference]).pixels
    weighted = replace(settings, ip=replace(settings.ip, reference_weights=(1.5, 0.0)))
    assert np.array_equal(engine.generate(weighted, [reference, second]).pixels, without)
    both = engine.generate(
        replace(settings, ip=replace(settings.ip, reference_weights=(1.5, 0.5))), [reference, second]
    )
    assert biggest_difference(both.pixels, without) > 0.01


def test_equal_weights_are_no_weights_and_average_weights_are_shares(engine: Engine, reference, second) -> None:
    for combine in ("average", "concat"):
        settings = settings_for("Euler a", scale=0.8, combine=combine)
        plain = engine.generate(settings, [reference, second]).pixels
        equal = engine.generate(
            replace(settings, ip=replace(settings.ip, reference_weights=(0.7, 0.7))), [reference, second]
        )
        assert np.array_equal(plain, equal.pixels), combine
    settings = settings_for("Euler a", scale=0.8, reference_weights=(3.0, 1.0))
    three_to_one = engine.generate(settings, [reference, second]).pixels
    as_copies = engine.generate(
        replace(settings, ip=replace(settings.ip, reference_weights=())), [reference] * 3 + [second]
    )
    assert biggest_difference(three_to_one, as_copies.pixels) <= TOLERANCE


# --- 3. regions: a mask per reference ------------------------------------------------------------


def region_masks() -> list[Image.Image]:
    """Twice the output size (lanczos resizing is part of what is compared), overlapping in the middle."""
    left, lower_right = Image.new("L", (160, 128), 0), Image.new("L", (160, 128), 0)
    left.paste(255, (0, 0, 100, 128))
    lower_right.paste(255, (70, 40, 160, 128))
    return [left, lower_right]


def diffusers_masks(masks: list[Image.Image], settings) -> list[torch.Tensor]:
    processed = IPAdapterMaskProcessor().preprocess(masks, height=settings.height, width=settings.width)
    return [processed.reshape(1, len(masks), settings.height, settings.width)]


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("variant", ["base", "plus"])
def test_regions_equal_diffusers_masked_attention(
    engine: Engine, base_pipe, plus_pipe, reference, second, scheduler: str, variant: str
) -> None:
    pipe = base_pipe if variant == "base" else plus_pipe
    settings = settings_for(scheduler, scale=0.8, variant=variant, reference_weights=(1.0, 0.6))
    masks = region_masks()
    ours = engine.generate(settings, [reference, second], more=MoreReferences(reference_masks=tuple(masks))).pixels
    theirs = pipe.run(
        settings, ip_scale=[[0.8 * 1.0, 0.8 * 0.6]], ip_adapter_image=[[reference, second]],
        cross_attention_kwargs={"ip_adapter_masks": diffusers_masks(masks, settings)},
    )  # fmt: skip
    assert biggest_difference(ours, theirs) <= TOLERANCE
    unmasked = engine.generate(replace(settings, ip=replace(settings.ip, combine="concat")), [reference, second])
    assert biggest_difference(ours, unmasked.pixels) > 0.01, "the masks should change the image"


def test_masked_weight_zero_is_the_same_as_leaving_the_reference_out(engine: Engine, reference, second) -> None:
    settings = settings_for("DPM++ 2M Karras", scale=0.8, reference_weights=(1.0, 0.0))
    left, lower_right = region_masks()
    both = engine.generate(settings, [reference, second], more=MoreReferences(reference_masks=(left, lower_right)))
    alone = replace(settings, ip=replace(settings.ip, reference_weights=()))
    assert np.array_equal(
        both.pixels, engine.generate(alone, [reference], more=MoreReferences(reference_masks=(left,))).pixels
    )


def test_an_all_white_mask_is_no_mask_and_its_weight_multiplies_lambda(engine: Engine, reference) -> None:
    white = (Image.new("L", (40, 32), 255),)
    settings = settings_for("Euler a", scale=0.8)
    plain = engine.generate(settings, [reference]).pixels
    assert (
        biggest_difference(
            engine.generate(settings, [reference], more=MoreReferences(reference_masks=white)).pixels, plain
        )
        <= TOLERANCE
    )
    half = replace(settings, ip=replace(settings.ip, reference_weights=(0.5,)))
    weaker = engine.generate(half, [reference], more=MoreReferences(reference_masks=white)).pixels
    assert (
        biggest_difference(
            weaker, engine.generate(replace(settings, ip=replace(settings.ip, scale=0.4)), [reference]).pixels
        )
        <= TOLERANCE
    )


# --- 5. a second adapter unit --------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_units_pipe(tiny_models_dir: Path) -> ReferencePipeline:
    return ReferencePipeline.load(tiny_models_dir, ["base", "plus"])


def with_second_unit(settings, **ip2: object):
    return replace(settings, ip2=IPAdapterSettings(**ip2))  # type: ignore[arg-type]


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_two_units_equal_diffusers_given_two_adapters(
    engine: Engine, two_units_pipe: ReferencePipeline, reference, second, scheduler: str
) -> None:
    first = settings_for(scheduler, scale=0.7, variant="base")
    settings = with_second_unit(first, scale=0.5, variant="plus", layer_weights=LAYER_WEIGHTS)
    more = MoreReferences(ip2_references=(second,))
    ours = engine.generate(settings, [reference], more=more).pixels
    scales = [0.7, diffusers_scale_dict(settings.ip2.layer_scales)]
    theirs = two_units_pipe.run(settings, ip_scale=scales, ip_adapter_image=[reference, second])
    assert biggest_difference(ours, theirs) <= TOLERANCE
    assert biggest_difference(ours, engine.generate(first, [reference]).pixels) > 0.01, "the second unit should act"


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_a_masked_second_unit_equals_diffusers(
    engine: Engine, two_units_pipe: ReferencePipeline, reference, second, scheduler: str
) -> None:
    settings = with_second_unit(settings_for(scheduler, scale=0.6), scale=0.9, variant="plus")
    mask = region_masks()[1]
    ours = engine.generate(settings, [reference], more=MoreReferences(ip2_references=(second,), ip2_masks=(mask,)))
    theirs = two_units_pipe.run(
        settings,
        ip_scale=[0.6, 0.9],
        ip_adapter_image=[reference, [second]],
        cross_attention_kwargs={"ip_adapter_masks": [None, *diffusers_masks([mask], settings)]},
    )
    assert biggest_difference(ours.pixels, theirs) <= TOLERANCE


def test_a_unit_with_lambda_zero_is_no_unit(engine: Engine, reference, second) -> None:
    first = settings_for("DPM++ 2M Karras", scale=0.7)
    more = MoreReferences(ip2_references=(second,), ip2_masks=(region_masks()[0],))
    off = with_second_unit(first, scale=0.0, variant="plus", layer_weights=LAYER_WEIGHTS)
    alone = engine.generate(first, [reference])
    assert np.array_equal(engine.generate(off, [reference], more=more).pixels, alone.pixels)
    assert "IP2" not in engine.generate(off, [reference], more=more).parameters[0]


def test_the_second_units_window_is_its_own(engine: Engine, reference, second) -> None:
    first = settings_for("Euler a", scale=0.7)
    more = MoreReferences(ip2_references=(second,))
    early = engine.generate(with_second_unit(first, scale=0.8, end=0.2), [reference], more=more).pixels
    whole = engine.generate(with_second_unit(first, scale=0.8), [reference], more=more).pixels
    never = engine.generate(with_second_unit(first, scale=0.8, start=0.5, end=0.5), [reference], more=more).pixels
    assert biggest_difference(early, whole) > 0.01
    assert np.array_equal(never, engine.generate(first, [reference]).pixels)


# --- 7. encodings stay cached per image -----------------------------------------------------------


def test_changing_weights_masks_or_lambda_re_encodes_nothing(engine: Engine) -> None:
    references = [noise_image(64, 64, seed=seed) for seed in (31, 32)]
    negative, other = noise_image(64, 64, seed=33), noise_image(64, 64, seed=34)
    left, lower_right = region_masks()
    first = settings_for("Euler a", scale=0.8, reference_weights=(1.0, 0.5))
    settings = with_second_unit(first, scale=0.5, variant="base")
    more = MoreReferences(negative_reference=negative, ip2_references=(other,))
    runs = engine.image_encoder.encoder_runs
    engine.generate(settings, references, more=more)
    assert engine.image_encoder.encoder_runs == runs + 4, "each new image once: two references, negative, unit 2's"
    runs = engine.image_encoder.encoder_runs
    changed = [
        replace(settings, ip=replace(settings.ip, scale=1.3)),
        replace(settings, ip=replace(settings.ip, reference_weights=(0.2, 2.0), combine="concat")),
        replace(settings, ip=replace(settings.ip, layer_weights=LAYER_WEIGHTS, start=0.2)),
        replace(settings, ip2=replace(settings.ip2, scale=1.1, layer_weights=WEIGHT_CURVES["ease out"])),
        replace(settings, ip=replace(settings.ip, variant="light")),  # the same CLIP image embeds
    ]
    for each in changed:
        engine.generate(each, references, more=more)
    masked = MoreReferences(negative_reference=negative, ip2_references=(other,), reference_masks=(left, lower_right))
    engine.generate(settings, references, more=masked)
    engine.generate(settings, references, more=replace(masked, reference_masks=(lower_right, left)))
    assert engine.image_encoder.encoder_runs == runs
