"""Issue 23's small requests that froze the server, dropped an input or leaked internals, over raw HTTP.

The events and their inputs come from the served app's ``/config`` (``test_red_team``), so an image
input added later is attacked too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from ipa_demo.metadata import read_png_parameters
from ipa_demo.ui.app import create_app, launch_options

from .test_app import served
from .test_red_team import assert_still_serves, call, default_data, events
from .test_security import upload
from .test_ui import FakeEngine


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with served(create_app(FakeEngine(), with_examples=False), **launch_options()) as url:  # type: ignore[arg-type]
        yield url


def event_named(url: str, api_name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return next((event, inputs) for event, inputs in events(url) if event.get("api_name") == api_name)


def png_with_text(path: Path, text: str) -> Path:
    info = PngInfo()
    info.add_text("parameters", text, zip=True)  # zTXt: a few hundred bytes on disk
    Image.new("RGB", (8, 8)).save(path, pnginfo=info)
    return path


# -- item 1: a PNG's parameters text is read in linear time --


def test_a_backtracking_bomb_png_loads_at_once_and_the_server_stays_responsive(app_url: str, tmp_path: Path) -> None:
    bomb = png_with_text(tmp_path / "bomb.png", "a cat\nNegative prompt: \nSteps: 2, " + "a" * 30000 + "!: x")
    assert bomb.stat().st_size < 400
    event, inputs = event_named(app_url, "load_png")
    answers: list[tuple[str, float]] = []

    def load() -> None:
        start = time.perf_counter()
        answers.append((call(app_url, event, [upload(app_url, bomb)]), time.perf_counter() - start))

    loading = threading.Thread(target=load)
    loading.start()
    time.sleep(0.2)
    start = time.perf_counter()
    status = httpx.get(f"{app_url}gradio_api/queue/status", timeout=60)
    status_seconds = time.perf_counter() - start
    loading.join(timeout=120)
    (answer, seconds), = answers
    assert status.status_code == 200 and status_seconds < 2.0, status_seconds
    assert '"success": true' in answer.replace('"success":true', '"success": true') and "a cat" in answer, answer
    assert seconds < 3.0, f"loading the PNG took {seconds:.1f} s"
    assert_still_serves(app_url)


def test_a_parameters_text_too_long_to_read_is_refused_naming_the_png(app_url: str, tmp_path: Path) -> None:
    long = png_with_text(tmp_path / "long.png", "a cat\nNegative prompt: \nSteps: 2, Seed: " + "1" * 300_000)
    event, _ = event_named(app_url, "load_png")
    answer = call(app_url, event, [upload(app_url, long)])
    text_length = f"{len(read_png_parameters(long) or ''):,}"
    assert f"The parameters in long.png cannot be used: its parameters text is {text_length} characters long" in answer
