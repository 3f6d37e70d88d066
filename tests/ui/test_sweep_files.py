"""Issue 23, item 5b over raw HTTP: a sweep whose axis value is too long for a file name still writes every
cell (files are named from a bounded slug and the cell's place), instead of failing at the zip."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ipa_demo.engine import Engine
from ipa_demo.ui.app import create_app, launch_options

from .test_app import served, small
from .test_red_team import default_data, events


@pytest.fixture(scope="module")
def url(engine: Engine) -> Iterator[str]:
    with served(create_app(engine, with_examples=False), **launch_options()) as address:
        yield address


def sweep_data(url: str, **values: Any) -> list[Any]:
    """/sweep's data list as the page sends it: each control's value, then ``values`` by API name."""
    _, inputs = next((e, i) for e, i in events(url) if e.get("api_name") == "sweep")
    parameters = httpx.get(f"{url}gradio_api/info", timeout=60).json()["named_endpoints"]["/sweep"]["parameters"]
    names = [parameter["parameter_name"] for parameter in parameters]
    data = default_data(inputs)
    for name, value in {**small(), **values}.items():
        data[names.index(name)] = value
    return data


def test_an_axis_value_longer_than_a_file_name_still_gives_every_cell(url: str) -> None:
    long_prompt = "a red bicycle " + "b" * 300  # past the 255 bytes a file name may have
    data = sweep_data(url, x_axis=f"prompt=a cat,{long_prompt}", y_axis="", ip_scale=0.0)
    response = httpx.post(f"{url}gradio_api/call/sweep", json={"data": data}, timeout=60)
    assert response.status_code == 200, response.text
    stream = httpx.get(f"{url}gradio_api/call/sweep/{response.json()['event_id']}", timeout=300).text
    assert "event: complete" in stream, stream[-2000:]
    outputs = json.loads(stream.split("event: complete\ndata:", 1)[1].strip().splitlines()[0])
    archive = next(item for item in outputs if isinstance(item, dict) and str(item.get("path", "")).endswith(".zip"))
    content = httpx.get(archive["url"], timeout=60).content
    with zipfile.ZipFile(io.BytesIO(content)) as zipped:
        names = zipped.namelist()
    cells = [name for name in names if name.endswith(".png") and "grid" not in name and "difference" not in name]
    assert len(cells) >= 2, names
    assert all(len(name.encode()) < 255 for name in names), names
