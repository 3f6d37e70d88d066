"""A1111's "Only masked" region (``crop_box``) and the paste back into the init image (``InpaintArea``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from ipa_demo.sdapi.errors import ApiError
from ipa_demo.inpaint_area import InpaintArea, crop_box
from ipa_demo.sdapi.mapping import Mapper
from ipa_demo.sdapi.models import Img2ImgRequest
from ipa_demo.settings import Limits

from .helpers import noise_image
from .sdapi.test_routes import b64


def mask(size: tuple[int, int], *boxes: tuple[int, int, int, int]) -> Image.Image:
    """White rectangles (right and bottom edges exclusive, as a box) on black."""
    picture = Image.new("L", size, 0)
    for left, top, right, bottom in boxes:
        ImageDraw.Draw(picture).rectangle((left, top, right - 1, bottom - 1), fill=255)
    return picture


@pytest.mark.parametrize(
    ("size", "painted", "padding", "output", "expected"),
    [
        ((100, 80), (0, 0, 10, 10), 0, (64, 64), (0, 0, 10, 10)),  # a corner, already square
        ((100, 80), (0, 0, 10, 10), 8, (64, 64), (0, 0, 18, 18)),  # the padding stops at the border
        ((100, 100), (30, 30, 70, 40), 0, (64, 64), (30, 15, 70, 55)),  # wide: grown up and down evenly
        ((100, 100), (30, 30, 70, 40), 0, (64, 32), (30, 25, 70, 45)),  # 4:1 is wider than 2:1: grown to 2:1
        ((100, 100), (40, 20, 60, 60), 0, (64, 32), (10, 20, 90, 60)),  # tall: grown sideways, to 2:1
        ((100, 80), (90, 70, 100, 80), 20, (128, 64), (40, 50, 100, 80)),  # past the corner: moved back inside
        ((100, 50), (0, 20, 100, 30), 0, (64, 64), (0, 0, 100, 50)),  # taller than the picture: cut at its edge
    ],
    ids=["corner", "corner-padding", "wide", "wide-to-2:1", "tall-to-2:1", "padding-past-border", "cut"],
)
def test_the_box_is_a1111s(size, painted, padding, output, expected) -> None:
    assert crop_box(mask(size, painted), padding, *output) == expected


def test_the_box_takes_the_aspect_where_the_picture_allows() -> None:
    for painted in [(5, 7, 20, 60), (40, 10, 90, 18), (0, 0, 3, 3), (50, 50, 51, 51)]:
        left, top, right, bottom = crop_box(mask((120, 90), painted), 4, 96, 64)  # type: ignore[misc]
        assert left <= painted[0] and top <= painted[1] and right >= painted[2] and bottom >= painted[3]
        assert abs((right - left) * 64 - (bottom - top) * 96) <= 96, painted  # 3:2 up to a pixel's rounding


def test_a_blank_mask_has_no_box_and_no_area() -> None:
    blank = Image.new("L", (50, 40), 0)
    assert crop_box(blank, 32, 64, 64) is None
    assert InpaintArea.of(noise_image(50, 40, seed=1), blank, True, 32, (64, 64)) is None
    assert InpaintArea.of(noise_image(50, 40, seed=1), blank, False, 32, (64, 64)) is not None


def test_only_masked_pastes_into_the_init_image_at_its_own_size() -> None:
    init = noise_image(120, 90, seed=2)
    area = InpaintArea.of(init, mask((120, 90), (70, 20, 100, 50)), True, 6, (64, 64))
    assert area is not None and area.box == (64, 14, 106, 56)
    engine_init, engine_mask = area.engine_images((64, 64))
    assert engine_init.size == engine_mask.size == (64, 64)
    generated = Image.new("RGB", (64, 64), (255, 0, 255))
    result = np.asarray(area.pasted([generated])[0], dtype=np.int16)
    original = np.asarray(init, dtype=np.int16)
    assert result.shape == original.shape
    left, top, right, bottom = area.box
    outside = np.ones(original.shape[:2], dtype=bool)
    outside[top:bottom, left:right] = False
    assert np.array_equal(result[outside], original[outside]), "outside the box: the init image's own pixels"
    assert (result[30:40, 80:90] == (255, 0, 255)).all(), "inside the mask: the generated image"
    assert area.pairs() == {"Inpaint area": "Only masked", "Masked area padding": "6"}


def _job(control: Image.Image, **unit: object) -> Any:
    init, painted = noise_image(120, 90, seed=2), mask((120, 90), (70, 20, 100, 50))
    raw = {"prompt": "a cat", "width": 64, "height": 64, "init_images": [b64(init)], "mask": b64(painted),
           "mask_blur": 0, "inpaint_full_res_padding": 6, "alwayson_scripts": {"controlnet": {"args": [
               {"enabled": True, "module": "none", "model": "control_v11p_sd15_canny", "image": b64(control),
                "resize_mode": "Just Resize", **unit}]}}}  # fmt: skip
    return Mapper(Limits(), 10_000_000).job(Img2ImgRequest.model_validate(raw), raw)


def test_only_masked_cuts_a_controlnet_units_image_as_it_cuts_the_init_image() -> None:
    """As the extension does by default: the unit's image (at the init image's aspect, so "Just Resize" fits)
    is cut to the box and scaled to the output; ``inpaint_crop_input_image: false`` keeps it whole."""
    control = noise_image(120, 90, seed=3)
    job = _job(control)
    assert job.area.box == (64, 14, 106, 56)
    expected = control.crop(job.area.box).resize((64, 64), Image.LANCZOS)
    assert np.array_equal(np.asarray(job.request.control_image), np.asarray(expected))
    assert job.request.control_image.size == job.request.init_image.size == (64, 64)
    whole = _job(control, inpaint_crop_input_image=False)
    assert np.array_equal(np.asarray(whole.request.control_image), np.asarray(control))
    with pytest.raises(ApiError) as caught:
        _job(noise_image(64, 64, seed=3))  # "Just Resize" of a square onto the 4:3 init image
    assert caught.value.field == "alwayson_scripts.controlnet.args[0].image" and "init image" in caught.value.message
