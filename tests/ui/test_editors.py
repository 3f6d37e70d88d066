"""Issue 23, items 2 and 3 over raw HTTP: the image editors' blob store is closed, and an editor's value is
counted and its headers read before Gradio decodes a layer."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest
from PIL import Image

from ipa_demo.settings.values import PARAMS
from ipa_demo.ui.app import create_app, launch_options
from ipa_demo.ui.editors import editor_files

from .test_app import served
from .test_security import BUDGET, request, serves, upload
from .test_ui import FakeEngine

META = {"_type": "gradio.FileData"}


@pytest.fixture(scope="module")
def app() -> Iterator[tuple[gr.Blocks, str]]:
    demo = create_app(FakeEngine(), limits=BUDGET, with_examples=False)  # type: ignore[arg-type]
    with served(demo, **launch_options()) as url:
        yield demo, url


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("layers")
    made = {"layer": ("RGBA", (100, 100)), "large": ("L", (200, 200)), "bomb": ("P", (60_000, 60_000))}
    paths = {}
    for name, (mode, size) in made.items():
        paths[name] = folder / f"{name}.png"
        Image.new(mode, size).save(paths[name])  # within the per-image limits, except the bomb's header
    return paths


def editors(demo: gr.Blocks) -> dict[str, gr.ImageEditor]:
    """Every editor, by elem_id; a hidden copy (which has none) by its id."""
    return {block.elem_id or str(block._id): block for block in demo.blocks.values() if isinstance(block, gr.ImageEditor)}


@pytest.fixture
def decoded(app: tuple[gr.Blocks, str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files Gradio decodes for the editors while a test runs."""
    seen: list[str] = []
    for editor in editors(app[0]).values():
        convert = editor.convert_and_format_image

        def recording(file: Any, *args: Any, _convert: Any = convert, **kwargs: Any) -> Any:
            if file is not None:
                seen.append(getattr(file, "path", "blob"))
            return _convert(file, *args, **kwargs)

        monkeypatch.setattr(editor, "convert_and_format_image", recording)
    return seen


def blob_request(url: str, component_id: int, index: int, as_json: bool = False) -> httpx.Response:
    fields = {"session_hash": "attacker", "component_id": str(component_id), "fn_name": "accept_blobs",
              "id": uuid.uuid4().hex, "type": "layer", "index": str(index)}  # fmt: skip
    if as_json:
        body = {**fields, "component_id": component_id, "data": {"id": fields["id"], "type": "layer", "index": index}}
        return httpx.post(f"{url}gradio_api/component_server", timeout=60, json=body)
    return httpx.post(f"{url}gradio_api/component_server", timeout=60, data=fields, files={"file": ("blob", b"x")})


def test_no_editor_keeps_a_blob_sent_to_accept_blobs(app: tuple[gr.Blocks, str]) -> None:
    demo, url = app
    config_editors = [c["id"] for c in httpx.get(f"{url}config", timeout=60).json()["components"] if c["type"] == "imageeditor"]
    assert sorted(config_editors) == sorted(editor._id for editor in editors(demo).values())
    for component_id in config_editors:
        for as_json in (False, True):
            response = blob_request(url, component_id, index=1_000_000, as_json=as_json)
            assert response.status_code == 404, response.text
        assert demo.blocks[component_id].blob_storage == {}
        assert "accept_blobs" not in (demo.config["components"][0].get("props", {}).get("server_fns") or [])
    serves(url)


def editor_value(layers: list[dict[str, Any]], composite: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"background": None, "layers": layers, "composite": composite}


def drawn_masks(url: str, value: dict[str, Any]) -> httpx.Response:
    """The unqueued helper behind "Add the drawing as the next mask"."""
    config = httpx.get(f"{url}config", timeout=60).json()
    fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "append_drawn_mask")
    body = {"data": [value, None], "fn_index": fn_index, "session_hash": uuid.uuid4().hex}
    return httpx.post(f"{url}gradio_api/run/predict", json=body, timeout=60)


def generate(url: str, **overrides: Any) -> httpx.Response:
    body = json.dumps({"data": [request(**overrides)[name] for name in PARAMS]})
    return httpx.post(f"{url}gradio_api/call/generate",
                      timeout=60, content=body, headers={"content-type": "application/json"})


def test_too_many_layers_are_refused_by_name_before_any_is_decoded(app, files, decoded) -> None:
    _, url = app
    layer = upload(url, files["layer"])  # the budget allows 4 images
    five = editor_value([layer] * 4, composite=layer)
    for response in (drawn_masks(url, five), generate(url, init_image=layer, mask_image=five)):
        assert response.status_code in (400, 422, 500), response.text
        assert "the editor sent 5 images" in response.text and "at most 4 input images" in response.text
    assert "Inpainting mask" in generate(url, init_image=layer, mask_image=five).text  # names the control
    assert decoded == []
    serves(url)


def test_layers_past_the_pixel_budget_or_a_bomb_header_are_refused_before_decoding(app, files, decoded) -> None:
    _, url = app
    large, bomb = upload(url, files["large"]), upload(url, files["bomb"])  # 40,000 pixels; the budget is 30,000
    over = drawn_masks(url, editor_value([large], composite=large))
    assert "megapixels together; at most 0.03 are accepted per request" in over.text, over.text
    refused_bomb = generate(url, init_image=upload(url, files["layer"]), mask_image=editor_value([bomb]))
    assert "(mask_image): bomb.png is too large to decode safely" in refused_bomb.text, refused_bomb.text
    assert str(Path(bomb["path"]).parent) not in refused_bomb.text, "the server's path came back"
    assert decoded == []
    serves(url)


def test_an_editor_value_within_the_budget_is_decoded_as_before(app, files, decoded) -> None:
    _, url = app
    layer = upload(url, files["layer"])
    response = drawn_masks(url, editor_value([layer], composite=layer))
    assert response.status_code == 200, response.text
    assert len(response.json()["data"][0]) == 1  # one mask added to the region masks
    assert len(decoded) == 2  # the layer and the composite, once each


def test_the_files_an_editor_value_names() -> None:
    value = {"background": {"path": "bg.png"}, "layers": [{"path": "a.png"}, {"path": "b.png"}], "composite": None}
    assert editor_files(value) == ["bg.png", "a.png", "b.png"]
    assert editor_files({**value, "id": "blobs"}) == []  # Gradio reads its blob store instead: closed, empty
    assert editor_files(None) == []
