"""The Inpaint tab's event over the API (``/inpaint``): the picture and the mask painted on its editor,
blurred as A1111 blurs it, give the engine's own inpainting pasted back over the picture through the
soft mask; the PNG notes the mask (``Mask blur``,
``Mask digest``) and reads back; refusals name the tab's controls."""

from __future__ import annotations

import re
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
from ipa_demo.inpaint_area import InpaintArea
from ipa_demo.mask_note import mask_digest
from ipa_demo.masked_fill import masked_fill
from ipa_demo.metadata import read_png_parameters, save_png
from ipa_demo.settings import GenerationSettings
from ipa_demo.settings.parameters import settings_from_parameters
from ipa_demo.ui.app import create_app
from ipa_demo.ui.inpaint_handler import percent_label

from ..helpers import noise_image
from .test_app import served, small
from .test_inpainting_ui import painted_layer

SIZE = 64
SQUARE = (40, 40, 55, 55)


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


def test_inpaint_is_the_engines_inpainting_pasted_back_through_the_blurred_mask_doubled(
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
    alpha = np.minimum(2 * np.asarray(blurred.convert("L"), dtype=float), 255)[..., None] / 255  # A1111's overlay
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


@pytest.mark.parametrize(
    ("content", "area", "noted"),
    [
        ("latent noise", "Whole picture", "Masked content: latent noise"),
        ("fill", "Whole picture", "Masked content: fill"),
        ("original", "Only masked", "Inpaint area: Only masked, Masked area padding: 8"),
        ("latent nothing", "Only masked", "Masked content: latent nothing"),
    ],
)
def test_masked_content_and_inpaint_area_are_the_engines_as_the_api_runs_them(
    client: Client, engine: Engine, tmp_path: Path, content: str, area: str, noted: str
) -> None:
    """Each choice gives what the engine makes from the same start (``inpaint_area`` and ``masked_fill``,
    the A1111 API's own), pasted back; and it is not the default's image. A square painted low right,
    so that "Only masked" leaves the picture's left part out."""
    init = noise_image(SIZE, SIZE, seed=3)
    init.save(tmp_path / "init.png")
    layer = painted_layer(tmp_path / "layer.png", (SIZE, SIZE), SQUARE)
    editor = {"background": handle_file(str(tmp_path / "init.png")), "layers": [handle_file(layer)], "composite": None}
    options = {"inpaint_image": editor, "mask_blur": 2, "inpaint_strength": 0.9, "only_masked_padding": 8}
    gallery, _, text = client.predict(**small(steps=3), **options, masked_content=content, inpaint_area=area,
                                      api_name="/inpaint")  # fmt: skip
    default, _, _ = client.predict(**small(steps=3), **options, api_name="/inpaint")
    painted = Image.new("L", (SIZE, SIZE), 0)
    ImageDraw.Draw(painted).rectangle(SQUARE, fill=255)
    mask = painted.filter(ImageFilter.GaussianBlur(2)).convert("RGB")
    where = InpaintArea.of(init, mask, area == "Only masked", 8, (SIZE, SIZE))
    assert where is not None
    start, engine_mask = where.engine_images((SIZE, SIZE))
    if content == "fill":
        start = masked_fill(start, engine_mask)
    settings = GenerationSettings(prompt="a red bicycle", steps=3, width=SIZE, height=SIZE, seed=21, strength=0.9)
    settings = replace(settings, ip=replace(settings.ip, scale=0.0))
    fill = content if content.startswith("latent") else "original"
    made = engine.generate(settings, init_image=start, mask_image=engine_mask, latent_fill=fill).images  # type: ignore[arg-type]
    expected = np.asarray(where.pasted(made)[0], dtype=float)
    output = np.asarray(Image.open(gallery[0]["image"]).convert("RGB"), dtype=float)
    assert np.abs(output - expected).max() <= 1, np.abs(output - expected).max()
    assert not np.array_equal(output, np.asarray(Image.open(default[0]["image"]).convert("RGB"), dtype=float))
    assert noted in text and settings_from_parameters(text).strength == 0.9, text
    if area == "Only masked":
        assert where.box is not None and where.box[0] > 0, "the box leaves the picture's left part out"
        outside = np.asarray(init, dtype=float)[:, : where.box[0]]
        assert np.array_equal(output[:, : where.box[0]], outside), "outside the box: the picture's own pixels"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"only_masked_padding": 300}, "Only masked padding, pixels: must be 0 to 256 pixels, got 300"),
        ({"only_masked_padding": 7.5}, "must be a whole number of pixels, got 7.5"),
        ({"masked_content": "noise"}, "Masked content: must be one of fill, original, latent noise, latent nothing"),
        ({"inpaint_area": "Box"}, "Inpaint area: must be one of Whole picture, Only masked, got 'Box'"),
    ],
)
def test_the_new_choices_are_refused_by_name_never_corrected(
    client: Client, picture: tuple[Image.Image, dict[str, object]], change: dict[str, object], message: str
) -> None:
    _, editor = picture
    with pytest.raises((ValidationError, AppError), match=re.escape(message)):
        client.predict(**small(), inpaint_image=editor, mask_blur=4, inpaint_strength=0.75, **change,
                       api_name="/inpaint")  # fmt: skip


def test_further_units_reach_the_engine(client: Client, picture: tuple[Image.Image, dict[str, object]],
                                         tmp_path: Path) -> None:  # fmt: skip
    """A second T2I-Adapter unit's map is the engine's (before, the tab dropped further units' images and
    the engine refused the request for their lack)."""
    _, editor = picture
    edges = Image.new("RGB", (SIZE, SIZE))
    ImageDraw.Draw(edges).rectangle((10, 10, 50, 50), outline=(255, 255, 255), width=3)
    edges.save(tmp_path / "edges.png")
    options = {"inpaint_image": editor, "mask_blur": 0, "inpaint_strength": 1.0}
    plain, _, _ = client.predict(**small(steps=3), **options, api_name="/inpaint")
    unit = {"kind": "canny", "map": handle_file(str(tmp_path / "edges.png")), "scale": 1.0}
    steered, _, text = client.predict(**small(steps=3), **options, t2i_units=[unit], api_name="/inpaint")
    assert [unit.kind for unit in settings_from_parameters(text).more_t2i_units] == ["canny"], text
    before, after = (np.asarray(Image.open(g[0]["image"]).convert("RGB"), dtype=float) for g in (plain, steered))
    assert np.abs(before - after)[:, 34:].max() > 8, "the unit's map steers the painted band"
    assert np.array_equal(before[:, :20], after[:, :20]), "outside the mask: the picture's own pixels either way"
