"""Invariants of the engine: what must be identical, what must change, what must not be redone."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ipa_demo.architecture.layers import MASK_PRESETS, NUM_LAYERS
from ipa_demo.engine import Engine
from ipa_demo.settings import GenerationSettings, IPAdapterSettings, SettingsError
from ipa_demo.settings.parameters import parse_parameters

from .helpers import noise_image

BASE = GenerationSettings(prompt="a red bicycle", seed=7, width=64, height=64, steps=4, scheduler="Euler a")


def with_ip(**ip: object) -> GenerationSettings:
    return replace(BASE, ip=IPAdapterSettings(**ip))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def without_adapter(engine: Engine) -> np.ndarray:
    return engine.generate(with_ip(scale=0.0)).pixels


@pytest.mark.parametrize(
    "ip",
    [
        {"scale": 0.0},
        {"scale": 0.8, "mask": MASK_PRESETS["none"]},
        {"scale": 0.8, "start": 0.5, "end": 0.5},
        {"scale": 0.8, "stage_weights": (0.0,) * 7},
    ],
    ids=["lambda-0", "mask-off", "empty-window", "stages-0"],
)
def test_inactive_adapter_is_bit_identical_to_no_adapter(engine, reference, without_adapter, ip) -> None:
    pixels = engine.generate(with_ip(**ip), [reference]).pixels
    assert np.array_equal(pixels, without_adapter)


def test_adapter_changes_the_image(engine, reference, without_adapter) -> None:
    pixels = engine.generate(with_ip(scale=0.7), [reference]).pixels
    assert np.abs(pixels - without_adapter).max() > 0.01


@pytest.mark.parametrize("layer", [0, 6, 15])
def test_moving_one_mask_bit_changes_the_image(engine, reference, layer: int) -> None:
    full = engine.generate(with_ip(scale=1.0), [reference]).pixels
    mask = "".join("0" if index == layer else "1" for index in range(NUM_LAYERS))
    one_off = engine.generate(with_ip(scale=1.0, mask=mask), [reference]).pixels
    assert not np.array_equal(full, one_off)


def test_window_limits_the_adapter_to_its_steps(engine, reference, without_adapter) -> None:
    early = engine.generate(with_ip(scale=0.8, start=0.0, end=0.5), [reference]).pixels
    full = engine.generate(with_ip(scale=0.8), [reference]).pixels
    assert not np.array_equal(early, without_adapter)
    assert not np.array_equal(early, full)


def test_new_scale_mask_or_seed_does_not_reencode_the_reference(engine, reference) -> None:
    engine.generate(with_ip(scale=0.5), [reference])
    runs = engine.image_encoder.encoder_runs
    engine.generate(replace(with_ip(scale=0.9, mask=MASK_PRESETS["style"]), seed=99), [reference])
    assert engine.image_encoder.encoder_runs == runs
    engine.generate(with_ip(scale=0.5, fit="pad"), [reference])
    assert engine.image_encoder.encoder_runs == runs + 1, "another fit is another encoding"


def test_settings_do_not_persist_between_calls(engine, reference) -> None:
    first = engine.generate(with_ip(scale=0.7, mask=MASK_PRESETS["style"]), [reference]).pixels
    engine.generate(with_ip(scale=2.0, variant="plus", start=0.2), [reference])
    again = engine.generate(with_ip(scale=0.7, mask=MASK_PRESETS["style"]), [reference]).pixels
    assert np.array_equal(first, again)


def test_several_references_are_averaged(engine, reference) -> None:
    other = noise_image(64, 64, seed=9)
    one = engine.generate(with_ip(scale=0.8), [reference]).pixels
    both = engine.generate(with_ip(scale=0.8), [reference, other]).pixels
    swapped = engine.generate(with_ip(scale=0.8), [other, reference]).pixels
    assert not np.array_equal(one, both)
    assert np.abs(both - swapped).max() <= 1e-6, "an average does not depend on the order"


def test_ip_adapter_without_reference_is_a_clear_error(engine) -> None:
    with pytest.raises(SettingsError, match="reference_images"):
        engine.generate(with_ip(scale=0.5))


def test_img2img_with_no_step_left_is_a_clear_error(engine) -> None:
    settings = replace(with_ip(scale=0.0), steps=4, strength=0.2)
    with pytest.raises(SettingsError, match="strength"):
        engine.generate(settings, init_image=noise_image(64, 64, seed=2))


def test_init_image_of_another_size_is_cropped_to_the_requested_size(engine) -> None:
    result = engine.generate(replace(with_ip(scale=0.0), strength=0.5), init_image=noise_image(100, 64, seed=3))
    assert result.images[0].size == (64, 64)


def test_parameters_record_each_image_seed_and_the_adapter(engine, reference) -> None:
    result = engine.generate(replace(with_ip(scale=0.6), num_images=2), [reference])
    seeds = [parse_parameters(text)[2]["Seed"] for text in result.parameters]
    assert seeds == [str(BASE.seed), str(BASE.seed + 1)]
    assert parse_parameters(result.parameters[0])[2]["IP scale"] == "0.6"


def test_long_prompt_is_truncated_with_a_warning(engine) -> None:
    result = engine.generate(replace(with_ip(scale=0.0), prompt="cat " * 200))
    assert any("77" in warning or "75" in warning for warning in result.warnings)


def test_offload_and_channels_last_keep_the_image(tiny_models_dir, reference) -> None:
    """On the CPU "offload" parks and fetches the same device, so this checks the wiring, not speed."""
    from ipa_demo.models.sources import ModelSources

    settings = replace(with_ip(scale=0.7), num_images=1)
    plain = Engine(ModelSources(tiny_models_dir)).generate(settings, [reference]).pixels
    tuned_engine = Engine(ModelSources(tiny_models_dir), offload=True, channels_last=True)
    tuned = tuned_engine.generate(settings, [reference]).pixels
    assert np.abs(tuned - plain).max() <= 1e-4
    assert "CPU offload" in tuned_engine.description


def test_text_encoding_is_safe_from_several_threads(engine) -> None:
    """The fast tokenizer's padding state is shared; without the lock some of these came back 2 long."""
    import threading

    from ipa_demo.loop import encode_text

    shapes: list[tuple[int, ...]] = []

    def encode_many(offset: int) -> None:
        for index in range(60):
            settings = replace(BASE, prompt="a red bicycle " * ((index + offset) % 25))
            shapes.append(tuple(encode_text(engine.models, settings).embeddings.shape))

    threads = [threading.Thread(target=encode_many, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(shapes) == 240 and set(shapes) == {(2, 77, engine.models.unet.config.cross_attention_dim)}
