"""The inpainting mask in the web app: painted on the init image in an ImageEditor, or sent as a file;
behind the same file gate and memory budget as every image input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw

from ipa_demo.engine import Engine
from ipa_demo.settings import Limits, SettingsError
from ipa_demo.settings.values import default_values
from ipa_demo.ui.app import create_app
from ipa_demo.ui.fields import parse_request

from ..helpers import noise_image
from .test_app import gallery_parameters, served, small


def painted_layer(path: Path, size: tuple[int, int], box: tuple[int, int, int, int] | None) -> str:
    """What the editor sends for a brush layer: transparent, with opaque strokes where painted."""
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    if box is not None:
        ImageDraw.Draw(layer).rectangle(box, fill=(255, 255, 255, 255))
    layer.save(path)
    return str(path)


def request_values(tmp_path: Path, mask: object) -> dict[str, object]:
    noise_image(64, 64, seed=3).save(tmp_path / "init.png")
    return {**default_values(), "prompt": "a cat", "seed": 1, "width": 64, "height": 64, "ip_scale": 0.0,
            "init_image": str(tmp_path / "init.png"), "mask_image": mask}  # fmt: skip


def test_painted_layers_become_one_mask_and_an_empty_canvas_none(tmp_path: Path) -> None:
    layers = [
        painted_layer(tmp_path / "a.png", (64, 64), (0, 0, 15, 63)),
        painted_layer(tmp_path / "b.png", (64, 64), (48, 0, 63, 63)),
    ]
    editor = {"background": str(tmp_path / "init.png"), "layers": layers, "composite": None}
    mask = np.asarray(parse_request(request_values(tmp_path, editor), Limits()).mask_image.convert("L"))
    assert mask[:, :16].min() == 255 and mask[:, 48:].min() == 255 and mask[:, 16:48].max() == 0
    empty = {"background": str(tmp_path / "init.png"), "layers": [painted_layer(tmp_path / "c.png", (64, 64), None)]}
    assert parse_request(request_values(tmp_path, empty), Limits()).mask_image is None


def test_a_mask_file_is_taken_as_it_is_and_needs_an_init_image(tmp_path: Path) -> None:
    Image.new("L", (64, 64), 255).save(tmp_path / "mask.png")
    request = parse_request(request_values(tmp_path, str(tmp_path / "mask.png")), Limits())
    assert np.asarray(request.mask_image.convert("L")).min() == 255
    with pytest.raises(SettingsError, match="mask_image: a mask needs an init image"):
        parse_request({**request_values(tmp_path, str(tmp_path / "mask.png")), "init_image": None}, Limits())


def test_the_mask_counts_in_the_memory_budget(tmp_path: Path) -> None:
    Image.new("L", (64, 64), 255).save(tmp_path / "mask.png")
    with pytest.raises(SettingsError, match="^mask_image: the input images hold"):
        parse_request(request_values(tmp_path, str(tmp_path / "mask.png")), Limits(max_request_pixels=64 * 64 + 10))
    with pytest.raises(SettingsError, match="^mask_image: at most 1 input images"):
        parse_request(request_values(tmp_path, str(tmp_path / "mask.png")), Limits(max_input_images=1))


@pytest.fixture(scope="module")
def client(engine: Engine) -> Iterator[Client]:
    with served(create_app(engine)) as url:
        yield Client(url, verbose=False)


def test_the_api_inpaints_with_a_painted_layer_as_the_engine_does(
    client: Client, engine: Engine, tmp_path: Path
) -> None:
    init = noise_image(64, 64, seed=3)
    init.save(tmp_path / "init.png")
    layer = painted_layer(tmp_path / "layer.png", (64, 64), (32, 0, 63, 63))
    editor = {"background": handle_file(str(tmp_path / "init.png")), "layers": [handle_file(layer)], "composite": None}
    request = small(steps=3, strength=0.9, init_image=handle_file(str(tmp_path / "init.png")), mask_image=editor)
    gallery, *_ = client.predict(**request, api_name="/generate")
    assert "Denoising strength: 0.9" in (gallery_parameters(gallery)[0] or "")
    settings = parse_request(request_values(tmp_path, None), Limits()).settings
    mask = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(mask).rectangle((32, 0, 63, 63), fill=255)
    from dataclasses import replace

    expected = engine.generate(replace(settings, prompt="a red bicycle", steps=3, strength=0.9, seed=21),
                               init_image=init, mask_image=mask).images[0]  # fmt: skip
    assert np.array_equal(np.asarray(Image.open(gallery[0]["image"]).convert("RGB")), np.asarray(expected))
