"""The mask as A1111 blurs it, and as the PNG text notes it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ipa_demo.mask_note import (
    blurred_mask,
    check_mask_blur,
    mask_blur_of,
    mask_digest,
    mask_pairs,
    pasted_back,
    pasted_over,
    with_mask_note,
)
from ipa_demo.settings.parameters import parse_parameters
from .helpers import noise_image


def square(size: int = 32) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    mask.paste(255, (8, 8, 24, 24))
    return mask


def test_the_digest_tells_masks_apart_and_ignores_the_mode() -> None:
    assert mask_digest(square()) == mask_digest(square().convert("RGB"))
    moved = Image.new("L", (32, 32), 0)
    moved.paste(255, (9, 8, 25, 24))
    assert mask_digest(moved) != mask_digest(square())
    assert mask_digest(square(32).resize((64, 64))) != mask_digest(square())
    assert len(mask_digest(square())) == 12


def test_the_note_joins_the_last_line_and_reads_back_as_pairs() -> None:
    text = "a cat\nNegative prompt: \nSteps: 2, Seed: 1, Version: ipa_demo 0.1.0"
    noted = with_mask_note(text, mask_pairs(blurred_mask(square(), 4), 4))
    pairs = parse_parameters(noted).pairs
    assert pairs["Mask blur"] == "4" and pairs["Mask digest"] == mask_digest(blurred_mask(square(), 4))
    assert pairs["Steps"] == "2" and noted.startswith(text)


def test_blur_softens_only_the_edge_and_the_paste_keeps_the_outside() -> None:
    soft = np.asarray(blurred_mask(square(), 2).convert("L"))
    assert soft[16, 16] == 255 and soft[0, 0] == 0 and 0 < soft[16, 8] < 255
    generated, init = Image.new("RGB", (32, 32), (255, 0, 0)), Image.new("RGB", (32, 32), (0, 0, 255))
    pasted = np.asarray(pasted_back(generated, init, blurred_mask(square(), 2)))
    assert tuple(pasted[16, 16]) == (255, 0, 0) and tuple(pasted[0, 0]) == (0, 0, 255)
    assert 0 < pasted[16, 8, 0] < 255


@pytest.mark.parametrize("value", [-1, 65, 2.5, "4", True, None])
def test_a_blur_out_of_range_is_refused_by_name(value: object) -> None:
    with pytest.raises(ValueError, match="^Mask blur "):
        check_mask_blur(value, "Mask blur")
    assert check_mask_blur(64.0, "Mask blur") == 64


def test_a_texts_mask_blur_reads_back_and_a_bad_one_is_refused_by_name() -> None:
    assert mask_blur_of(parse_parameters("a cat\nSteps: 2, Mask blur: 9, Mask digest: 0123456789ab").pairs) == 9
    assert mask_blur_of(parse_parameters("a cat\nSteps: 2").pairs) is None  # not an inpainting's text
    for bad, reason in (("99", "must be 0 to 64 pixels, got 99"), ("soft", "must be a whole number of pixels")):
        with pytest.raises(ValueError, match=f"Mask blur {reason}"):
            mask_blur_of({"Mask blur": bad})


def test_the_whole_picture_is_pasted_through_the_blurred_mask_doubled_as_a1111_pastes_it() -> None:
    """A1111: overlay = clip(2 × blurred mask), the init image over the generated one with alpha 1 − overlay."""
    soft = blurred_mask(square(), 3)
    generated, init = noise_image(32, 32, seed=1), noise_image(32, 32, seed=2)
    overlay = np.minimum(2 * np.asarray(soft.convert("L"), dtype=float), 255)[..., None] / 255
    expected = np.asarray(generated, dtype=float) * overlay + np.asarray(init, dtype=float) * (1 - overlay)
    pasted = np.asarray(pasted_over([generated], init, soft)[0], dtype=float)
    assert np.abs(pasted - expected).max() <= 1  # Pillow's 8-bit blend
    repainted = np.asarray(soft.convert("L")) >= 128  # where the engine's binarized mask repaints
    assert 0 < (repainted & (np.asarray(soft.convert("L")) < 255)).sum(), "the blur's inner half is tested"
    assert np.array_equal(pasted[repainted], np.asarray(generated, dtype=float)[repainted]), "no old picture there"
