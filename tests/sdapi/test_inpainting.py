"""img2img with a mask through the A1111 API (issue 26): ``inpainting_fill`` 0 ("fill", webuiapi's default),
1 ("original"), 2 and 3 (in the latents); "Only masked" (``inpaint_full_res``, webuiapi's default) and the
paste back over the init image; the PNG notes the mask as A1111 writes it (``Mask blur``) with our
``Mask digest``, and reads back."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import webuiapi
from PIL import Image

from ipa_demo.mask_note import blurred_mask, mask_digest
from ipa_demo.masked_fill import masked_fill
from ipa_demo.inpaint_area import crop_box
from ipa_demo.ui.app import create_app, launch_options

from ..helpers import noise_image
from ..ui.test_app import served
from .test_routes import b64, decoded, post

SIZE = 64
# "Whole picture", unless a test asks for webuiapi's own default (inpaint_full_res=True, "Only masked")
ASKED = {"inpaint_full_res": False, "prompt": "a red bicycle", "seed": 5, "width": SIZE, "height": SIZE, "cfg_scale": 7.5, "denoising_strength": 0.6}


@pytest.fixture(scope="module")
def url(engine) -> Iterator[str]:
    with served(create_app(engine, with_examples=False), **launch_options()) as address:
        yield address


@pytest.fixture(scope="module")
def api(url: str) -> webuiapi.WebUIApi:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    return webuiapi.WebUIApi(host=host, port=int(port), sampler="Euler a", steps=2)


def pictures() -> tuple[Image.Image, Image.Image]:
    init, mask = noise_image(SIZE, SIZE, seed=11), Image.new("RGB", (SIZE, SIZE), "black")
    mask.paste((255, 255, 255), (16, 16, 48, 48))
    return init, mask


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_webuiapis_defaults_fill_the_masked_part_before_encoding(api: webuiapi.WebUIApi) -> None:
    """webuiapi sends inpainting_fill 0 and mask_blur 4 unless told otherwise: the fill was refused before, now A1111's,
    which is exactly "original" (1) on an init image filled first."""
    init, mask = pictures()
    filled = api.img2img(images=[init], mask_image=mask, **ASKED)
    soft = blurred_mask(mask, 4)
    by_hand = api.img2img(images=[masked_fill(init, soft)], mask_image=mask, inpainting_fill=1, **ASKED)
    original = api.img2img(images=[init], mask_image=mask, inpainting_fill=1, **ASKED)
    # each is pasted back over its own init image: where the soft mask is white, both are what the engine made
    inside = np.asarray(soft.convert("L")) == 255
    assert inside.sum() > 100 and np.array_equal(pixels(filled.image)[inside], pixels(by_hand.image)[inside])
    assert not np.array_equal(pixels(filled.image), pixels(original.image)), "the fill changed what was encoded"

    text = filled.image.info["parameters"]
    assert "Mask blur: 4" in text and f"Mask digest: {mask_digest(soft)}" in text, text
    assert text in filled.info["infotexts"]
    read = api.png_info(filled.image)
    assert read.info == text and read.parameters["Mask blur"] == "4"


def _img2img(url: str, **fields: object) -> Image.Image:
    init, mask = pictures()
    body = {**ASKED, "init_images": [b64(init)], "mask": b64(mask), "steps": 2, "mask_blur": 0, **fields}
    reply = post(url, "sdapi/v1/img2img", body)
    assert reply.status_code == 200, reply.text
    return decoded(reply.json()["images"][0])


@pytest.mark.parametrize(("fill", "named"), [(2, "latent noise"), (3, "latent nothing")])
def test_fills_in_the_latents_change_the_masked_part_only(url: str, fill: int, named: str) -> None:
    original, filled = _img2img(url, inpainting_fill=1), _img2img(url, inpainting_fill=fill)
    assert f"Masked content: {named}" in filled.info["parameters"]
    init, mask = pictures()
    outside = np.asarray(mask.convert("L")) == 0  # mask_blur 0: pasted back exactly where the mask is black
    assert np.array_equal(pixels(filled)[outside], pixels(init)[outside])
    assert np.abs(pixels(filled) - pixels(original))[~outside].max() > 2, "the masked part started elsewhere"


def test_an_unknown_fill_is_refused_naming_the_field_and_value(url: str) -> None:
    init, mask = pictures()
    body = {**ASKED, "init_images": [b64(init)], "mask": b64(mask), "inpainting_fill": 7, "steps": 2}
    reply = post(url, "sdapi/v1/img2img", body)
    assert reply.status_code == 422, reply.text
    detail = reply.json()["detail"]
    assert detail.startswith("inpainting_fill: ") and "(got 7)" in detail, detail


def test_webuiapis_defaults_inpaint_only_the_masked_region(api: webuiapi.WebUIApi) -> None:
    """inpaint_full_res=True and padding 0 unless told: the box around the blurred mask is generated at the
    request's size and pasted back into the init image, which keeps its own size and, outside, its pixels."""
    init = noise_image(96, 80, seed=12)
    mask = Image.new("L", (96, 80), 0)
    mask.paste(255, (60, 10, 80, 30))
    made = api.img2img(images=[init], mask_image=mask, prompt="a red bicycle", seed=5, width=SIZE, height=SIZE,
                       denoising_strength=0.6).image
    assert made.size == init.size
    text = made.info["parameters"]
    assert "Inpaint area: Only masked" in text and "Masked area padding: 0" in text and "Size: 64x64" in text, text
    box = crop_box(blurred_mask(mask, 4), 0, SIZE, SIZE)
    assert box is not None
    left, top, right, bottom = box
    outside = np.ones((80, 96), dtype=bool)
    outside[top:bottom, left:right] = False
    assert outside.sum() > 96 * 80 // 2
    assert np.array_equal(pixels(made)[outside], pixels(init)[outside]), "outside the box: the init image's pixels"
    inside = np.asarray(blurred_mask(mask, 4).convert("L")) > 200
    assert inside.sum() > 50 and np.abs(pixels(made) - pixels(init))[inside].max() > 2, "inside the mask: generated"
    padded = api.img2img(images=[init], mask_image=mask, prompt="a red bicycle", seed=5, width=SIZE, height=SIZE,
                         denoising_strength=0.6, inpaint_full_res_padding=16).image
    assert not np.array_equal(pixels(padded), pixels(made)) and "Masked area padding: 16" in padded.info["parameters"]


def test_a_bad_padding_is_refused_by_name(url: str) -> None:
    init, mask = pictures()
    body = {**ASKED, "init_images": [b64(init)], "mask": b64(mask), "inpaint_full_res": True,
            "inpaint_full_res_padding": -3}  # fmt: skip
    reply = post(url, "sdapi/v1/img2img", body)
    assert reply.status_code == 422 and reply.json()["detail"].startswith("inpaint_full_res_padding: "), reply.text


def test_without_a_mask_there_is_no_mask_note(api: webuiapi.WebUIApi) -> None:
    init, _ = pictures()
    text = api.img2img(images=[init], **ASKED).image.info["parameters"]
    assert "Mask" not in text and "Denoising strength: 0.6" in text
