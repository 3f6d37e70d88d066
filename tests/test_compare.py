"""The comparison: each method's picture is exactly what it gives alone, and shared work is done once."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import ImageFont

from ipa_demo import grid_labels
from ipa_demo.compare import ComparisonEntry, ComparisonResult, compare, comparison_methods, labelled_grid
from ipa_demo.engine import Engine
from ipa_demo.settings import GenerationSettings, IPAdapterSettings, T2IAdapterSettings

from .helpers import noise_image

SETTINGS = GenerationSettings(
    prompt="a lighthouse", seed=11, width=64, height=64, steps=4, strength=0.6, ip=IPAdapterSettings(scale=0.7)
)


@pytest.fixture(scope="module")
def control_image():
    return noise_image(64, 64, seed=12)


@pytest.fixture(scope="module")
def comparison(engine: Engine, reference, control_image) -> ComparisonResult:
    return compare(engine, SETTINGS, reference, control_image=control_image)


def test_methods_and_labels(comparison: ComparisonResult) -> None:
    labels = [entry.label for entry in comparison.entries]
    assert labels == ["Reference-only (attn)", "img2img (strength 0.6)", "IP-Adapter (λ 0.7)",
                      "IP-Adapter + ControlNet canny"]  # fmt: skip
    assert "CLIP" in comparison.encoder_name


def test_each_output_is_bit_identical_to_running_it_alone(engine: Engine, comparison, reference, control_image) -> None:
    for entry in comparison.entries:
        alone = engine.generate(
            entry.settings,
            [reference],
            init_image=reference if entry.label.startswith("img2img") else None,
            control_image=control_image if "+" in entry.label else None,
        )
        assert np.array_equal(np.asarray(alone.images[0]), np.asarray(entry.image)), entry.label
        assert alone.parameters[0] == entry.parameters


def test_all_methods_share_seed_sampler_steps_and_size(comparison: ComparisonResult) -> None:
    shared = {(e.settings.seed, e.settings.scheduler, e.settings.steps, e.settings.guidance, e.settings.width,
               e.settings.height) for e in comparison.entries}  # fmt: skip
    assert shared == {(11, SETTINGS.scheduler, 4, SETTINGS.guidance, 64, 64)}


def test_scores_timings_and_grid(comparison: ComparisonResult) -> None:
    for entry in comparison.entries:
        assert -1.0 <= entry.similarity <= 1.0 and entry.seconds > 0
    width, height = comparison.grid.size
    assert width == 64 * (len(comparison.entries) + 1) and height > 64


def test_grid_captions_fit_their_tiles_and_draw_lambda() -> None:
    """64-pixel tiles: every caption line fits its tile, and λ is a glyph or the word "lambda"."""
    entries = [
        ComparisonEntry(label, noise_image(64, 64, seed=index), "", 0.8123, 1.25, SETTINGS)
        for index, label in enumerate(["Reference-only (attn)", "IP-Adapter (λ 0.7)", "IP-Adapter + ControlNet canny"])
    ]
    grid = labelled_grid(noise_image(90, 60, seed=9), entries)
    font = grid_labels.label_font(grid_labels.font_size_for(64))
    captions = [
        grid_labels.wrap(f"{entry.label}\nCLIP 0.812 · 1.2s", font, 64 - 2 * grid_labels.MARGIN) for entry in entries
    ]
    assert all(font.getlength(line) <= 64 - 2 * grid_labels.MARGIN for lines in captions for line in lines)
    assert grid.size == (64 * 4, 64 + grid_labels.caption_height(captions, font))
    shown = " ".join(captions[1])
    assert ("λ" in shown and grid_labels.has_glyph(font, "λ")) or "lambda" in shown


def test_a_font_without_lambda_writes_the_word() -> None:
    builtin = ImageFont.load_default(10)  # Pillow's own font has no λ: it drew an empty box
    assert not grid_labels.has_glyph(builtin, "λ") and grid_labels.has_glyph(builtin, "a")
    assert grid_labels.wrap("IP-Adapter (λ 0.7)", builtin, 500) == ["IP-Adapter (lambda 0.7)"]


def test_the_reference_is_encoded_once(engine: Engine, reference) -> None:
    fresh = noise_image(64, 64, seed=99)
    clip_runs = engine.image_encoder.encoder_runs
    vae_encodes = engine.posteriors.misses
    compare(engine, SETTINGS, fresh)
    # CLIP: the reference once for IP-Adapter (reused for scoring) plus one per scored output.
    assert engine.image_encoder.encoder_runs == clip_runs + 1 + 3
    assert engine.posteriors.misses == vae_encodes + 1, "img2img and reference-only share one VAE encode"


def test_chosen_structure_and_reference_settings_are_used(engine: Engine, reference, control_image) -> None:
    settings = replace(SETTINGS, t2i=T2IAdapterSettings(kind="depth"))
    result = compare(engine, settings, reference, control_image=control_image)
    assert result.entries[-1].label == "IP-Adapter + T2I depth"


def test_weights_for_several_references_do_not_stop_a_one_reference_comparison() -> None:
    settings = GenerationSettings(prompt="x", ip=IPAdapterSettings(reference_weights=(1.0, 2.0)))
    ip_method = comparison_methods(settings, with_control=False)[2]
    assert ip_method.settings.ip.reference_weights == () and ip_method.settings.ip.scale == settings.ip.scale
