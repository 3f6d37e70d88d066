"""Helper buttons' refusals beside the button, naming it (issue 27, item 8), in the page's language."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import gradio as gr
import httpx
import pytest

from ipa_demo.ui.app import create_app, launch_options
from ipa_demo.ui.helper_errors import said_beside, said_beside_only
from ipa_demo.ui.reference_controls import ADD_MASK, append_drawn_mask

from .test_app import served
from .test_ui import FakeEngine

CHINESE = gr.Request(headers={"accept-language": "zh-CN,zh;q=0.9"})


def refuse(gallery: object) -> int:
    raise gr.Error("Generate an image first.", print_exception=False)


def test_a_queued_helper_says_it_beside_the_button_and_in_a_toast() -> None:
    run = said_beside(refuse, "Reuse seed", 1)(None)
    seed, box = next(run)
    assert seed == gr.skip() and box["visible"] is True
    assert box["value"] == "**Reuse seed: Generate an image first.**"
    with pytest.raises(gr.Error, match="Reuse seed: Generate an image first"):
        next(run)


def test_a_helper_that_succeeds_empties_the_box() -> None:
    assert list(said_beside(lambda gallery: 42, "Reuse seed", 1)(None)) == [(42, gr.update(value="", visible=False))]


def test_the_chinese_page_reads_it_in_chinese() -> None:
    run = said_beside(refuse, "Reuse seed", 1)(None, gradio_request=CHINESE)
    _, box = next(run)
    assert box["value"] == "**复用种子：请先生成一张图片。**"


def test_the_signature_names_the_request_for_gradio() -> None:
    import inspect

    parameters = inspect.signature(said_beside(append_drawn_mask, ADD_MASK, 1)).parameters
    assert list(parameters) == ["drawing", "masks", "gradio_request"]
    assert parameters["gradio_request"].annotation is gr.Request


def test_add_mask_with_nothing_drawn_answers_beside_the_button() -> None:
    masks, box = said_beside_only(append_drawn_mask, ADD_MASK, 1)(None, None)
    assert masks == gr.skip()
    assert box["value"] == f"**{ADD_MASK}: Draw a mask first: paint white where the reference should act.**"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with served(create_app(FakeEngine(), with_examples=False), **launch_options()) as found:  # type: ignore[arg-type]
        yield found


def test_the_unqueued_add_mask_event_shows_its_refusal(url: str) -> None:
    """Before, the event failed with a bare error that Gradio 6.31 shows nowhere; now it answers the box."""
    config = httpx.get(f"{url}config", timeout=60).json()
    dependency = next(d for d in config["dependencies"] if d.get("api_name") == "append_drawn_mask")
    body = {"data": [None, None], "fn_index": dependency["id"], "session_hash": uuid.uuid4().hex}
    response = httpx.post(f"{url}gradio_api/run/predict", json=body, timeout=60)
    assert response.status_code == 200, response.text
    box = response.json()["data"][-1]
    assert box["visible"] is True and "Draw a mask first" in box["value"] and ADD_MASK in box["value"]


def test_a_png_upload_first_clears_the_old_parameters(url: str) -> None:
    config = httpx.get(f"{url}config", timeout=60).json()
    ids = {component["props"].get("elem_id"): component["id"] for component in config["components"]}
    uploads = [d for d in config["dependencies"] if [ids["png-file"], "upload"] in d["targets"]]
    assert len(uploads) == 1 and uploads[0]["outputs"] == [ids["png-text"]] and uploads[0]["js"] is None
    loading = next(d for d in config["dependencies"] if d.get("api_name") == "load_png")
    assert loading["trigger_after"] == uploads[0]["id"] and not loading["trigger_only_on_success"]


def test_a_handler_that_takes_the_request_itself_gets_it(tmp_path) -> None:
    import inspect

    from ipa_demo.settings import Limits
    from ipa_demo.ui.handlers import Handlers
    from ipa_demo.ui.outputs import OutputStore

    handlers = Handlers(FakeEngine(), OutputStore(tmp_path), Limits())  # type: ignore[arg-type]
    wrapped = said_beside(handlers.settings_of_selected, "Load its settings", 3)
    assert list(inspect.signature(wrapped).parameters) == ["gallery", "selected", "gradio_request"]
    _, _, _, box = next(wrapped(None, None, CHINESE))  # by position, as Gradio passes it
    assert box["value"] == "**载入它的设置：请先生成一张图片。**"
