"""The Inpaint tab's event over the API (``/inpaint``): the picture and the mask painted on its editor,
blurred as A1111 blurs it, give the engine's own inpainting pasted back over the picture through the
soft mask; the PNG notes the mask (``Mask blur``,
``Mask digest``) and reads back; refusals name the tab's controls."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError, ValidationError
from PIL import Image, ImageDraw, ImageFilter

from ipa_demo.engine import Engine
from ipa_demo.mask_note import mask_digest
from ipa_demo.metadata import read_png_parameters, save_png
from ipa_demo.settings import GenerationSettings
from ipa_demo.settings.parameters import settings_from_parameters
from ipa_demo.ui.app import create_app
from ipa_demo.ui.inpaint_handler import percent_label

from ..helpers import noise_image
from .test_app import served, small
from .test_inpainting_ui import painted_layer

SIZE = 64


@pytest.fixture(scope="module")
def client(engine: Engine) -> Iterator[Client]:
    with served(create_app(engine)) as url:
        yield Client(url, verbose=False)


@pytest.fixture()
def picture(tmp_path: Path) -> tuple[Image.Image, dict[str, object]]:
    """The init image and an editor value with a band painted on its right half."""
    init = noise_image(SIZE, SIZE, seed=3)
    init.save(tmp_path / "init.png")
    layer = painted_layer(tmp_path / "layer.png", (SIZE, SIZE), (30, 0, SIZE - 1, SIZE - 1))
    editor = {"background": handle_file(str(tmp_path / "init.png")), "layers": [handle_file(layer)], "composite": None}
    return init, editor


def test_inpaint_is_the_engines_inpainting_pasted_back_through_the_blurred_mask(
    client: Client, engine: Engine, picture: tuple[Image.Image, dict[str, object]]
) -> None:
    init, editor = picture
    gallery, seed, text = client.predict(**small(steps=3), inpaint_image=editor, mask_blur=6, inpaint_strength=0.9,
                                         api_name="/inpaint")  # fmt: skip
    painted = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(painted).rectangle((30, 0, SIZE - 1, SIZE - 1), fill=255)
    blurred = painted.filter(ImageFilter.GaussianBlur(6)).convert("RGB")
    settings = GenerationSettings(prompt="a red bicycle", steps=3, width=SIZE, height=SIZE, seed=21, strength=0.9)
    settings = replace(settings, ip=replace(settings.ip, scale=0.0))
    generated = np.asarray(engine.generate(settings, init_image=init, mask_image=blurred).images[0], dtype=float)
    alpha = np.asarray(blurred.convert("L"), dtype=float)[..., None] / 255
    expected = generated * alpha + np.asarray(init, dtype=float) * (1 - alpha)
    output = np.asarray(Image.open(gallery[0]["image"]).convert("RGB"), dtype=float)
    assert seed == 21
    assert np.abs(output - expected).max() <= 1, np.abs(output - expected).max()  # Pillow's 8-bit blend
    soft = (alpha[..., 0] > 0.05) & (alpha[..., 0] < 0.95)
    assert soft[:, 20:28].all() and not soft[:, :12].any(), "the blur softens the edge, and only there"
    outside, inside = alpha[..., 0] == 0, alpha[..., 0] == 1
    assert np.array_equal(output[outside], np.asarray(init, dtype=float)[outside]), "outside: the picture's own pixels"
    assert np.array_equal(output[inside], generated[inside])

    saved = read_png_parameters(Path(gallery[0]["image"]))
    assert saved is not None and text.startswith(saved)
    assert "Mask blur: 6" in saved and f"Mask digest: {mask_digest(blurred)}" in saved, saved
    assert "Denoising strength: 0.9" in saved
    assert settings_from_parameters(saved).strength == 0.9  # the added pairs read back


def test_a_png_with_the_mask_note_loads_its_settings_and_the_tabs_mask_blur(
    client: Client, engine: Engine, picture: tuple[Image.Image, dict[str, object]]
) -> None:
    """"Load settings from a PNG" (and "Load its settings") set the Inpaint tab's Mask blur from the text."""
    _, editor = picture
    gallery, _, _ = client.predict(**small(steps=2, seed=5), inpaint_image=editor, mask_blur=9, inpaint_strength=0.5,
                                   api_name="/inpaint")  # fmt: skip
    demo = create_app(engine, with_examples=False)
    for api_name, arguments in (("load_png", (gallery[0]["image"],)), ("settings_of_selected", ([gallery[0]["image"]], 0))):
        event = next(fn for fn in demo.fns.values() if fn.api_name == api_name)
        answer = event.fn(*arguments)
        answer = next(answer) if api_name == "settings_of_selected" else answer  # a queued helper: one yield
        loaded = dict(zip((block.elem_id for block in event.outputs), answer, strict=True))
        assert "Mask blur: 9" in loaded["png-text"] and "Mask digest: " in loaded["png-text"]
        assert loaded["mask_blur"] == 9, api_name
    plain = Path(gallery[0]["image"]).with_name("plain.png")  # a Generate PNG has no mask blur: the tab keeps its own
    save_png(Image.open(gallery[0]["image"]), plain, "a cat\nNegative prompt: \nSteps: 2, Seed: 3, Size: 64x64")
    event = next(fn for fn in demo.fns.values() if fn.api_name == "load_png")
    assert event.fn(str(plain))[-1] == gr.skip()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mask_blur": 70}, "mask_blur: Mask blur: must be 0 to 64 pixels, got 70"),
        ({"inpaint_strength": 0.0}, "Denoising strength"),
        ({"no_layers": True}, "nothing is painted yet: paint over the part of the picture to redo"),
        ({"no_picture": True}, "upload the picture to inpaint first"),
    ],
)
def test_refusals_name_the_tabs_controls(
    client: Client, picture: tuple[Image.Image, dict[str, object]], change: dict[str, object], message: str
) -> None:
    _, editor = picture
    if change.pop("no_layers", False):
        editor = {**editor, "layers": []}
    if change.pop("no_picture", False):
        editor = {"background": None, "layers": [], "composite": None}
    values = {"mask_blur": 4, "inpaint_strength": 0.75, **change}
    with pytest.raises((ValidationError, AppError), match=message):
        client.predict(**small(), inpaint_image=editor, **values, api_name="/inpaint")


def test_the_bar_shows_the_percentage() -> None:
    label = percent_label("Inpainting")
    assert [label((0, 20)), label((5, 20)), label((20, 20))] == ["Inpainting · 0%", "Inpainting · 25%", "Inpainting · 100%"]
