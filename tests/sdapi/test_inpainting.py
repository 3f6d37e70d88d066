"""img2img with a mask through the A1111 API (issue 26): ``inpainting_fill`` 0 ("fill", webuiapi's default)
and 1 ("original"); 2 and 3 (in the latents) refused by name; the PNG notes the mask as A1111 writes it
(``Mask blur``) with our ``Mask digest``, and reads back."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import webuiapi
from PIL import Image

from ipa_demo.mask_note import blurred_mask, mask_digest
from ipa_demo.sdapi.fill import masked_fill
from ipa_demo.ui.app import create_app, launch_options

from ..helpers import noise_image
from ..ui.test_app import served
from .test_routes import b64, post

SIZE = 64
# webuiapi's own default inpaint_full_res=True ("Only masked") is still refused by name: the whole picture only
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
    assert np.array_equal(pixels(filled.image), pixels(by_hand.image))
    assert not np.array_equal(pixels(filled.image), pixels(original.image)), "the fill changed what was encoded"

    text = filled.image.info["parameters"]
    assert "Mask blur: 4" in text and f"Mask digest: {mask_digest(soft)}" in text, text
    assert text in filled.info["infotexts"]
    read = api.png_info(filled.image)
    assert read.info == text and read.parameters["Mask blur"] == "4"


@pytest.mark.parametrize(("fill", "named"), [(2, "latent noise"), (3, "latent nothing"), (7, "")])
def test_fills_in_the_latents_are_refused_naming_the_field_and_value(url: str, fill: int, named: str) -> None:
    init, mask = pictures()
    body = {**ASKED, "init_images": [b64(init)], "mask": b64(mask), "inpainting_fill": fill, "steps": 2}
    reply = post(url, "sdapi/v1/img2img", body)
    assert reply.status_code == 422, reply.text
    detail = reply.json()["detail"]
    assert detail.startswith("inpainting_fill: ") and f"(got {fill})" in detail and named in detail, detail


def test_without_a_mask_there_is_no_mask_note(api: webuiapi.WebUIApi) -> None:
    init, _ = pictures()
    text = api.img2img(images=[init], **ASKED).image.info["parameters"]
    assert "Mask" not in text and "Denoising strength: 0.6" in text
