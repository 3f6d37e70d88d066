"""Issue 23, item 7, over raw HTTP: the base model is part of each request, never a switch for everyone.

An app started with two base models: the tiny SD1.5 folder, and a single file made from the tiny
set's single-file twin with its UNet's output convolution negated (the twin itself makes the same
pixels as the folder, so it could not tell the two models apart). Pixels are compared with a
reference generation of each model alone.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file, save_file

from ipa_demo.engine import Engine
from ipa_demo.metadata import save_png
from ipa_demo.models import single_file
from ipa_demo.models.sources import ModelSources
from ipa_demo.models.tiny_user import SINGLE_FILE
from ipa_demo.settings import GenerationSettings, IPAdapterSettings
from ipa_demo.ui.app import create_app, launch_options

from .test_app import served, small
from .test_red_team import default_data, events
from .test_security import upload

OTHER = "other-sd15"
SETTINGS = GenerationSettings(prompt="a red bicycle", steps=2, width=64, height=64, seed=21,
                              ip=IPAdapterSettings(scale=0.0))  # fmt: skip  (= small())


@pytest.fixture(scope="module")
def other_model(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = load_file(str(tiny_models_dir / SINGLE_FILE))
    for key in ("model.diffusion_model.out.2.weight", "model.diffusion_model.out.2.bias"):
        state[key] = -state[key]
    path = tmp_path_factory.mktemp("user-models") / f"{OTHER}.safetensors"
    save_file(state, str(path), metadata={"format": "pt"})
    return path


@pytest.fixture(scope="module")
def references(engine: Engine, tiny_models_dir: Path, other_model: Path) -> dict[str, np.ndarray]:
    """What each model makes of ``SETTINGS`` alone, as the 8-bit pixels the app sends."""
    alone = Engine(ModelSources(tiny_models_dir), base_model=str(other_model))
    made = {"stable-diffusion-v1-5": engine.generate(SETTINGS), OTHER: alone.generate(SETTINGS)}
    pixels = {name: np.asarray(result.images[0], dtype=np.int16) for name, result in made.items()}
    assert np.abs(pixels[OTHER] - pixels["stable-diffusion-v1-5"]).max() > 40, "the two models must differ"
    return pixels


@pytest.fixture(scope="module")
def png_of_other(other_model: Path, tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = Engine(ModelSources(tiny_models_dir), base_model=str(other_model)).generate(SETTINGS)
    assert f"Model: {OTHER}" in result.parameters[0] and "Model hash: " in result.parameters[0]
    return save_png(result.images[0], tmp_path_factory.mktemp("pngs") / "made-by-other.png", result.parameters[0])


@pytest.fixture(scope="module")
def app_url(tiny_models_dir: Path, other_model: Path) -> Iterator[str]:
    two = Engine(ModelSources(tiny_models_dir), base_model_options=[str(other_model)])
    demo = create_app(two, concurrency=2, with_examples=False)  # two requests really run at once
    with served(demo, **launch_options()) as url:
        yield url


def api_names(url: str) -> list[str]:
    """/generate's parameters, in order (also the order of the controls "Load settings from a PNG" sets)."""
    parameters = httpx.get(f"{url}gradio_api/info", timeout=60).json()["named_endpoints"]["/generate"]["parameters"]
    return [parameter["parameter_name"] for parameter in parameters]


def generate_data(url: str, **values: Any) -> list[Any]:
    """/generate's data list as the page sends it: each control's value, then ``values`` by API name."""
    _, inputs = next((e, i) for e, i in events(url) if e.get("api_name") == "generate")
    names = api_names(url)
    data = default_data(inputs)
    for name, value in {**small(), **values}.items():
        data[names.index(name)] = value
    return data


def generated(url: str, data: list[Any]) -> np.ndarray:
    """The first image /generate returns for ``data``, as 8-bit pixels."""
    response = httpx.post(f"{url}gradio_api/call/generate", timeout=60, json={"data": data})
    assert response.status_code == 200, response.text
    stream = httpx.get(f"{url}gradio_api/call/generate/{response.json()['event_id']}", timeout=120).text
    assert "event: complete" in stream, stream
    outputs = json.loads(stream.split("event: complete\ndata:", 1)[1].strip().splitlines()[0])
    image = httpx.get(outputs[0][0]["image"]["url"], timeout=60).content
    return np.asarray(Image.open(io.BytesIO(image)).convert("RGB"), dtype=np.int16)


def model_made(pixels: np.ndarray, references: dict[str, np.ndarray]) -> str:
    """Which model made these pixels (equal to its reference within one 8-bit level)."""
    made = [name for name, reference in references.items() if np.abs(pixels - reference).max() <= 1]
    assert len(made) == 1, {name: int(np.abs(pixels - ref).max()) for name, ref in references.items()}
    return made[0]


def load_png_in_session(url: str, png: Path, session: str) -> list[Any]:
    """Session ``session`` loads ``png`` with "Load settings from a PNG", as the page does; its outputs."""
    event, _ = next((e, i) for e, i in events(url) if e.get("api_name") == "load_png")
    answer = json.loads(call_in(url, event, [upload(url, png)], session))
    assert answer.get("success"), answer
    return answer["output"]["data"]


def call_in(url: str, event: dict[str, Any], data: list[Any], session: str) -> str:
    """``test_red_team.call``, in the given session."""
    body = {"data": data, "fn_index": event["id"], "session_hash": session, "event_data": None, "trigger_id": None}
    if not event["queue"]:
        return httpx.post(f"{url}gradio_api/run/predict", json=body, timeout=60).text
    assert httpx.post(f"{url}gradio_api/queue/join", json=body, timeout=60).status_code == 200
    with httpx.stream("GET", f"{url}gradio_api/queue/data", params={"session_hash": session}, timeout=60) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:") and json.loads(line[5:]).get("msg") == "process_completed":
                return line[5:]
    return ""


def picker_events(url: str) -> list[tuple[dict[str, Any], int, Any]]:
    """Every event other than the GPU requests that takes the base-model picker, with the picker's
    position and the value naming the other model."""
    gpu = {"generate", "inpaint", "compare", "sweep", "injection_maps"}
    found = []
    for event, inputs in events(url):
        for position, component in enumerate(inputs):
            props = component.get("props", {})
            picker = component["type"] == "dropdown" and "base" in str(props.get("elem_id", ""))
            if picker and event.get("api_name") not in gpu:
                other = next(value for label, value in props["choices"] if label.startswith(OTHER))
                found.append((event, position, other))
    return found


def test_a_session_that_picks_or_loads_another_model_changes_nothing_for_another_session(
    app_url: str, references: dict[str, np.ndarray], png_of_other: Path
) -> None:
    session_a = uuid.uuid4().hex
    for event, position, other in picker_events(app_url):  # the old picker's own event switched for everyone
        _, inputs = next((e, i) for e, i in events(app_url) if e["id"] == event["id"])
        data = default_data(inputs)
        data[position] = other
        call_in(app_url, event, data, session_a)
    outputs = load_png_in_session(app_url, png_of_other, session_a)
    names = api_names(app_url)
    picked = outputs[names.index("base_model")] if "base_model" in names else None  # session A's picker now
    as_a = {"base_model": picked} if picked is not None else {}

    made: dict[str, np.ndarray] = {}

    def session(name: str, **values: Any) -> None:
        made[name] = generated(app_url, generate_data(app_url, **values))

    runs = [threading.Thread(target=session, args=("A",), kwargs=as_a), threading.Thread(target=session, args=("B",))]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=300)
    assert model_made(made["B"], references) == "stable-diffusion-v1-5", "session B's request must stay on model 1"
    assert picked == OTHER, "the PNG sets session A's picker to the model it was made with"
    assert model_made(made["A"], references) == OTHER


def test_the_api_base_model_parameter_picks_the_model_for_that_call_only(
    app_url: str, references: dict[str, np.ndarray]
) -> None:
    assert model_made(generated(app_url, generate_data(app_url, base_model=OTHER)), references) == OTHER
    assert model_made(generated(app_url, generate_data(app_url)), references) == "stable-diffusion-v1-5"
    assert model_made(generated(app_url, generate_data(app_url, base_model="")), references) == "stable-diffusion-v1-5"


def test_a_png_with_an_unknown_model_hash_does_not_hash_the_models_again(
    tiny_models_dir: Path, other_model: Path, png_of_other: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    original = single_file.sha256_of  # what reads a whole file (short_hash and the cache call it)

    def counting(path: Path) -> str:
        hashed.append(str(path))
        return original(path)

    monkeypatch.setattr(single_file, "sha256_of", counting)
    monkeypatch.setattr(single_file, "_hashes", {}, raising=False)  # as a freshly started server
    text = Image.open(png_of_other).text["parameters"]
    unknown = tmp_path / "unknown.png"
    save_png(Image.open(png_of_other), unknown, text.replace("Model hash: ", "Model hash: f"))
    counts = []
    fresh = Engine(ModelSources(tiny_models_dir), base_model_options=[str(other_model)])  # nothing hashed yet
    with served(create_app(fresh, with_examples=False), **launch_options()) as url:
        for _ in range(2):
            load_png_in_session(url, unknown, uuid.uuid4().hex)
            counts.append(len(hashed))
    assert counts == [1, 1], f"each single file is hashed once, not per request: {hashed}"


def test_an_unknown_base_model_is_refused_naming_the_parameter(app_url: str) -> None:
    data = generate_data(app_url, base_model="/etc/passwd")
    response = httpx.post(f"{app_url}gradio_api/call/generate", timeout=60, json={"data": data})
    assert response.status_code == 422, response.text
    refused = {item["parameter_name"]: item["message"] for item in response.json()["detail"] if not item["is_valid"]}
    assert refused == {"base_model": f"must be one of this server's base models: stable-diffusion-v1-5, {OTHER}"}
    assert generated(app_url, generate_data(app_url)).std() > 0, "and the server still serves"


def test_the_a1111_api_override_picks_the_model_for_that_request_only(
    app_url: str, references: dict[str, np.ndarray], other_model: Path
) -> None:
    """Issue 26 on issue 23's per-request models: ``override_settings.sd_model_checkpoint`` acts for its call."""

    def txt2img(**extra: Any) -> np.ndarray:
        body = {"prompt": SETTINGS.prompt, "steps": 2, "width": 64, "height": 64, "seed": SETTINGS.seed,
                "sampler_name": SETTINGS.scheduler, "cfg_scale": SETTINGS.guidance, **extra}  # fmt: skip
        response = httpx.post(f"{app_url}sdapi/v1/txt2img", json=body, timeout=120)
        assert response.status_code == 200, response.text
        assert json.loads(response.json()["info"])["sd_model_name"] == extra.get("override_settings", {}).get(
            "sd_model_checkpoint", "stable-diffusion-v1-5"
        ).split(" [")[0]
        image = Image.open(io.BytesIO(base64.b64decode(response.json()["images"][0])))
        return np.asarray(image.convert("RGB"), dtype=np.int16)

    listed = httpx.get(f"{app_url}sdapi/v1/sd-models", timeout=60).json()
    assert [model["model_name"] for model in listed] == ["stable-diffusion-v1-5", OTHER]
    # As A1111 lists a checkpoint: "name [first 10 hex of its SHA-256]", and the whole digest; a folder has none.
    whole = hashlib.sha256(other_model.read_bytes()).hexdigest()
    assert (listed[1]["title"], listed[1]["hash"], listed[1]["sha256"]) == (f"{OTHER} [{whole[:10]}]", whole[:10], whole)
    assert (listed[0]["title"], listed[0]["hash"], listed[0]["sha256"]) == ("stable-diffusion-v1-5", None, None)
    other_title = listed[1]["title"]
    assert model_made(txt2img(override_settings={"sd_model_checkpoint": other_title}), references) == OTHER
    assert model_made(txt2img(), references) == "stable-diffusion-v1-5"
