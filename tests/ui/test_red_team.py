"""Every event in ``/config``, public or private, fed server paths in every file-like input, over raw HTTP.

The events and their inputs are read from the served app's ``/config``, so an event added later is
attacked too. Each file-like input gets a server path in each shape a caller can send (with and
without Gradio's ``meta``, as a bare string, inside a gallery item), the other inputs their
defaults. For each: the request is refused; nothing of the file, nor a link to a copy of it, comes
back; the refusal reads the same for a file that exists and one that does not; and the server still
serves a normal request afterwards.

The attack is one test case per file-like input of each event, listed at collection from the app's own
config (the same app is then served, and ``test_the_cases_are_every_file_input_the_server_lists`` holds
the list to the served ``/config``), so xdist spreads the ~2000 requests over its workers. Each case
sends its requests over one kept-alive connection and one session: a new session makes Gradio copy the
config of every block of the page (most of a call's time), and the refusals leave nothing in it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from ipa_demo.ui.app import create_app, launch_options

from .test_app import ROOT, served, small
from .test_ui import FakeEngine

FILE_LIKE = {"image", "gallery", "file", "imageslider", "imageeditor", "uploadbutton"}
META = {"_type": "gradio.FileData"}
HTTP = httpx.Client(timeout=60)  # one connection pool: a new client per request loads the CA bundle (40 ms)
with pytest.MonkeyPatch.context() as environment:  # the cases are read from this app, which is then served
    # After each queued event Gradio sums up all of them so far (a pandas frame): over thousands of
    # refusals that grew quadratic. Gradio's analytics, not the app's; read when the queue is made.
    environment.setenv("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(10**9))
    APP = create_app(FakeEngine(), with_examples=False)  # type: ignore[arg-type]


def file_inputs(config: dict[str, Any]) -> list[tuple[int, str | None, int, str]]:
    """(event id, api name, input position, component type) of each file-like input of each event."""
    components = {component["id"]: component for component in config["components"]}
    return [(event["id"], event.get("api_name"), position, components[index]["type"])
            for event in config["dependencies"] for position, index in enumerate(event["inputs"])
            if components[index]["type"] in FILE_LIKE]  # fmt: skip


CASES = file_inputs(APP.get_config_file())


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with served(APP, **launch_options()) as url:
        yield url


@pytest.fixture(scope="module")
def served_events(app_url: str) -> dict[int, tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The served page's events by id, with their inputs (read once: the config lists every component)."""
    return {event["id"]: (event, inputs) for event, inputs in events(app_url)}


@pytest.fixture(scope="module")
def generate_request(app_url: str) -> list[Any]:
    return raw_request(app_url, **small(seed=3))


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Server files a caller must not get at: a readable PNG in the app's folder and in /tmp, source, nothing."""
    secret_png = tmp_path_factory.mktemp("secret") / "secret.png"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(secret_png)
    return {
        "png in the app's folder": ROOT / "docs" / "generate-tab.png",
        "png in /tmp": secret_png,
        "source file": ROOT / "app.py",
        "missing file": ROOT / "docs" / "no-such-file.png",
    }


def shapes(kind: str, path: str) -> dict[str, Any]:
    """Every way a caller can name ``path`` in an input of component type ``kind``."""
    bare, with_meta = {"path": path}, {"path": path, "meta": META}
    if kind == "gallery":
        return {
            "gallery item": [{"image": bare, "caption": None}],
            "gallery item with meta": [{"image": with_meta, "caption": None}],
            "gallery of strings": [path],
            "gallery of file data": [bare],  # the plain form /generate accepts for reference_images
            "gallery of file data with meta": [with_meta],
        }
    if kind == "imageeditor":  # the inpainting mask: a path in any of its three places
        editor = {"background": None, "layers": [], "composite": None}
        return {"layer": {**editor, "layers": [bare]}, "layer with meta": {**editor, "layers": [with_meta]},
                "background with meta": {**editor, "background": with_meta},
                "composite with meta": {**editor, "composite": with_meta}}  # fmt: skip
    if kind == "imageslider":
        return {"pair": [bare, bare], "pair with meta": [with_meta, with_meta]}
    return {"file data": bare, "file data with meta": with_meta, "string": path}


def events(url: str) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    config = HTTP.get(f"{url}config").json()
    components = {component["id"]: component for component in config["components"]}
    return [(event, [components[index] for index in event["inputs"]]) for event in config["dependencies"]]


def attacked_inputs(url: str) -> list[tuple[dict[str, Any], list[dict[str, Any]], int]]:
    return [
        (event, inputs, position)
        for event, inputs in events(url)
        for position, component in enumerate(inputs)
        if component["type"] in FILE_LIKE
    ]


def call(url: str, event: dict[str, Any], data: list[Any], session: str | None = None) -> str:
    """Run the event as the page does (queued or not) in ``session`` (default: a new one); the raw text the
    server answered (for a queued event, its ``process_completed`` message)."""
    session = session or uuid.uuid4().hex
    body = {"data": data, "fn_index": event["id"], "session_hash": session, "event_data": None, "trigger_id": None}
    if not event["queue"]:
        return HTTP.post(f"{url}gradio_api/run/predict", json=body).text
    joined = HTTP.post(f"{url}gradio_api/queue/join", json=body)
    if joined.status_code != 200:
        return joined.text
    event_id, completed = joined.json()["event_id"], ""
    with HTTP.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():  # to the stream's end (close_stream): the session's next call starts clean
            message = json.loads(line[5:]) if line.startswith("data:") else {}
            if message.get("msg") == "process_completed" and message.get("event_id") == event_id:
                completed = line[5:]
    assert completed, f"the queue never completed event {event_id}"
    return completed


def default_data(inputs: list[dict[str, Any]]) -> list[Any]:
    return [component.get("props", {}).get("value") for component in inputs]


def outcome(text: str, path: Path) -> str:
    """What the caller learnt, with the path it sent taken out (also as pydantic echoes it, shortened)."""
    text = re.sub(r"input_value='[^']*'", "input_value=<path>", text)
    text = re.sub(r'"event_id":\s*"[0-9a-f]+"', '"event_id": <id>', text)  # queued events: one id per call
    text = re.sub(r"'path': '[^']*'", "'path': <path>", text)  # pydantic's echo inside a dict (the editor's layers)
    return text.replace(str(path), "<path>").replace(path.name, "<name>")


def test_the_cases_are_every_file_input_the_server_lists(app_url: str) -> None:
    served = file_inputs(HTTP.get(f"{app_url}config").json())
    assert served == CASES, "the served page lists other file inputs than the cases read at collection"
    # the events of today: a new one is attacked too, without a change here
    names = {name for _, name, _, _ in CASES}
    assert {"generate", "compare", "use_as_reference", "use_as_init", "settings_of_selected", "load_png"} <= names


@pytest.mark.parametrize(
    ("event_id", "position"),
    [(event_id, position) for event_id, _, position, _ in CASES],
    ids=[f"{name}-{event_id}-input{position}-{kind}" for event_id, name, position, kind in CASES],
)
def test_every_file_input_of_every_event_refuses_server_paths(
    app_url: str, targets: dict[str, Path], served_events: dict[int, Any], generate_request: list[Any],
    event_id: int, position: int,
) -> None:  # fmt: skip
    event, inputs = served_events[event_id]
    kind = inputs[position]["type"]
    secret_bytes = {name: path.read_bytes()[:64] for name, path in targets.items() if path.exists()}
    session = uuid.uuid4().hex
    for shape in shapes(kind, "<path>"):
        seen: dict[str, str] = {}
        for target, path in targets.items():
            data = default_data(inputs)
            data[position] = shapes(kind, str(path))[shape]
            answer = call(app_url, event, data, session)
            where = f"{event.get('api_name')} / input {position} ({kind}) / {shape} / {target}"
            assert "gradio_api/file=" not in answer, f"a link to a copy of the file came back: {where}"
            assert target not in secret_bytes or secret_bytes[target].decode("latin-1") not in answer, where
            assert '"success": true' not in answer and '"success":true' not in answer, where
            seen[target] = outcome(answer, path)
        assert len(set(seen.values())) == 1, f"the answer tells files apart: {event.get('api_name')} {shape} {seen}"
    assert_still_serves(app_url, generate_request)


def test_the_refusal_names_the_input(app_url: str, targets: dict[str, Path]) -> None:
    event, inputs = next((e, i) for e, i in events(app_url) if e.get("api_name") == "generate")
    position = next(
        index for index, component in enumerate(inputs) if component["props"].get("elem_id") == "init_image"
    )
    data = default_data(inputs)
    data[position] = {"path": str(targets["png in the app's folder"])}
    answer = call(app_url, event, data)
    assert "(init_image): only files uploaded to this app, or images it made, can be used." in answer


def assert_still_serves(url: str, request: list[Any] | None = None) -> None:
    """A plain /generate (``request``: ``raw_request(url, **small(seed=3))``, read again if not given) runs."""
    response = HTTP.post(f"{url}gradio_api/call/generate", json={"data": request or raw_request(url, **small(seed=3))})
    assert response.status_code == 200, response.text
    event_id = response.json()["event_id"]
    result = HTTP.get(f"{url}gradio_api/call/generate/{event_id}").text
    assert "event: complete" in result and '"seed 3"' in result


def raw_request(url: str, **values: Any) -> list[Any]:
    """/generate's data list: each control's default, then ``values`` by API parameter name."""
    event, inputs = next((e, i) for e, i in events(url) if e.get("api_name") == "generate")
    api = HTTP.get(f"{url}gradio_api/info").json()["named_endpoints"]["/generate"]["parameters"]
    names = [parameter["parameter_name"] for parameter in api]
    data = default_data(inputs)
    for name, value in values.items():
        data[names.index(name)] = value
    return data
