"""An upload that is not an image is refused at once, naming the control; images pass untouched."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest
from PIL import Image

from ipa_demo.ui.upload_check import image_check


def files(tmp_path: Path) -> tuple[str, str]:
    good, fake = tmp_path / "cat.png", tmp_path / "notes.png"
    Image.new("RGB", (16, 12)).save(good)
    fake.write_text("not a picture")
    return str(good), str(fake)


def test_a_renamed_text_file_leaves_the_image_input_and_is_named(tmp_path: Path) -> None:
    good, fake = files(tmp_path)
    run = image_check("Init image", gallery=False)(fake)
    assert next(run) is None  # the blank thumbnail goes
    with pytest.raises(gr.Error, match=r"Init image: notes.png cannot be read as an image"):
        next(run)
    assert list(image_check("Init image", gallery=False)(good)) == [gr.skip()]


def test_a_gallery_keeps_its_images_and_drops_the_rest(tmp_path: Path) -> None:
    good, fake = files(tmp_path)
    run = image_check("Reference image(s)", gallery=True)([(good, None), (fake, None)])
    assert next(run) == [(good, None)]
    with pytest.raises(gr.Error, match=r"Reference image\(s\): notes.png"):
        next(run)
    assert list(image_check("Reference image(s)", gallery=True)([(good, None)])) == [gr.skip()]
