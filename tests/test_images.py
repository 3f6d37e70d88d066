"""Every file of the bad-input corpus is converted correctly or refused with a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ipa_demo.cli import main
from ipa_demo.images import ImageInputError, load_image, read_size

from .bad_images import BAD, GOOD, REASONS, gradient, write_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_are_refused_naming_the_input(corpus, name: str) -> None:
    with pytest.raises(ImageInputError, match="^reference: ") as caught:
        load_image(corpus[name], "reference")
    assert REASONS.get(name, "cannot be read as an image") in str(caught.value)


@pytest.mark.parametrize("name", sorted(BAD))
def test_the_header_check_refuses_what_decoding_would_except_unconvertible_pixels(corpus, name: str) -> None:
    if name in ("float.tif", "negative.tif", "truncated.png"):  # their headers are sound
        assert min(read_size(corpus[name], "reference")) >= 8
        return
    with pytest.raises(ImageInputError, match="^reference: "):
        read_size(corpus[name], "reference")


def test_lab_is_converted_to_the_colours_it_stands_for(corpus) -> None:
    pixels = np.asarray(load_image(corpus["lab.tif"], "reference")).astype(int)
    assert np.abs(pixels - gradient(32, 32)).mean() < 3  # copying L, a, b as R, G, B would be off by ~100


def test_aspect_ratio_limit_comes_from_the_environment(corpus, monkeypatch) -> None:
    monkeypatch.setenv("IPA_MAX_ASPECT_RATIO", "300")
    assert load_image(corpus["strip.png"], "reference").size == (4000, 16)
    monkeypatch.setenv("IPA_MAX_ASPECT_RATIO", "10")
    with pytest.raises(ImageInputError, match="at most 10 times the other"):
        load_image(corpus["wide.png"], "reference")


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_files_become_rgb(corpus, name: str) -> None:
    image = load_image(corpus[name], "reference")
    assert image.mode == "RGB" and min(image.size) >= 8


def test_exif_orientation_is_applied(corpus) -> None:
    assert load_image(corpus["rotated.jpg"], "reference").size == (32, 64)


def test_transparency_is_flattened_onto_white(corpus) -> None:
    pixels = np.asarray(load_image(corpus["rgba.png"], "reference"))
    assert tuple(pixels[0, 0]) == (200, 0, 0) and tuple(pixels[0, -1]) == (255, 255, 255)


def test_sixteen_bit_grey_keeps_its_range(corpus) -> None:
    pixels = np.asarray(load_image(corpus["grey16.png"], "reference"))
    assert pixels.min() == 0 and pixels.max() == 255 and 100 < pixels.mean() < 155


def test_animated_images_give_their_first_frame(corpus) -> None:
    assert tuple(np.asarray(load_image(corpus["animated.gif"], "reference"))[0, 0]) == (255, 0, 0)


def test_cmyk_is_converted(corpus) -> None:
    pixels = np.asarray(load_image(corpus["cmyk.jpg"], "reference")).astype(int)
    assert abs(pixels[0, 0] - (0, 0, 0)).max() < 40 and abs(pixels[-1, -1] - (255, 255, 255)).max() < 40


@pytest.mark.parametrize("name", sorted(BAD))
def test_cli_refuses_bad_files_in_one_line(tiny_models_dir, corpus, tmp_path, capsys, name: str) -> None:
    code = main(["generate", "--models", str(tiny_models_dir), "--prompt", "x", "--reference", str(corpus[name]),
                 "--steps", "2", "--width", "64", "--height", "64", "--out", str(tmp_path)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: reference: ") and err.count("\n") == 1


@pytest.mark.parametrize("name", sorted(GOOD))
def test_cli_uses_good_files(tiny_models_dir, corpus, tmp_path, name: str) -> None:
    code = main(["generate", "--models", str(tiny_models_dir), "--prompt", "x", "--reference", str(corpus[name]),
                 "--init-image", str(corpus[name]), "--strength", "0.5",
                 "--steps", "2", "--width", "64", "--height", "64", "--out", str(tmp_path)])  # fmt: skip
    assert code == 0 and len(list(tmp_path.glob("*.png"))) == 1
