"""Issue 23, item 4 over raw HTTP: the body limit exempts Gradio's upload route and nothing else, and the
upload route's non-file form fields are capped while they arrive."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio.utils import get_upload_folder
from PIL import Image

from ipa_demo.ui.app import create_app, launch_options
from ipa_demo.ui.upload_fields import MAX_FIELD_BYTES, FieldMeter

from .test_app import served
from .test_ui import FakeEngine

MEGABYTE = 1024 * 1024


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with served(create_app(FakeEngine(), with_examples=False), **launch_options()) as address:  # type: ignore[arg-type]
        yield address


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (9, 8, 7)).save(buffer, format="PNG")
    return buffer.getvalue()


def chunks(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    for _ in range(total // size):
        yield b"x" * size


@pytest.mark.parametrize("route", ["run/upload", "call/upload"])
def test_an_event_route_named_upload_keeps_the_body_limit(url: str, route: str) -> None:
    response = httpx.post(f"{url}gradio_api/{route}", timeout=60, content=chunks(8 * MEGABYTE),
                          headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 413 and "too large" in response.text
    assert httpx.get(f"{url}config", timeout=60).status_code == 200


def test_a_large_non_file_field_of_an_upload_is_refused_while_it_arrives(url: str) -> None:
    fields: Any = {"note": "x" * (4 * MEGABYTE)}
    response = httpx.post(f"{url}gradio_api/upload", timeout=60, data=fields, files={"files": ("a.png", png())})
    assert response.status_code == 413, response.text
    assert f"other fields may hold {MAX_FIELD_BYTES} bytes together" in response.text


def test_fields_are_counted_together_and_files_are_not_counted(url: str) -> None:
    half = "x" * (MAX_FIELD_BYTES // 2 + 1)
    two_fields = httpx.post(f"{url}gradio_api/upload",
                            timeout=60, data={"a": half, "b": half}, files={"files": ("a.png", png())})
    assert two_fields.status_code == 413
    big_file = png() + b"\0" * (2 * MEGABYTE)  # a file part of any size up to IPA_MAX_UPLOAD_MB
    response = httpx.post(f"{url}gradio_api/upload",
                          timeout=60, data={"note": "small"}, files={"files": ("a.png", big_file)})
    assert response.status_code == 200 and len(response.json()) == 1


def test_a_refused_upload_leaves_no_file_behind(url: str) -> None:
    marker = uuid.uuid4().hex.encode()
    body = [("files", ("first.png", png() + marker)), ("files", ("second.png", png() + marker))]
    response = httpx.post(f"{url}gradio_api/upload", timeout=60, files=body, data={"note": "x" * (2 * MEGABYTE)})
    assert response.status_code == 413
    left = [name for folder, _, names in os.walk(get_upload_folder()) for name in names
            if marker in (Path(folder) / name).read_bytes()]  # fmt: skip
    assert not left, "a partial upload stayed on disk"


def test_the_meter_reads_a_form_in_pieces() -> None:
    boundary = b"b0undary"
    body = (b"--b0undary\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.png\"\r\n\r\n" + b"F" * 5000
            + b"\r\n--b0undary\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n" + b"n" * 700
            + b"\r\n--b0undary--\r\n")  # fmt: skip
    meter = FieldMeter(boundary, limit=699)
    for start in range(0, len(body), 7):
        meter.feed(body[start : start + 7])
    assert (meter.field_bytes, meter.over) == (700, True)
    assert FieldMeter.for_content_type(b"application/json") is None


def test_a_second_content_type_does_not_hide_the_fields(url: str) -> None:
    boundary, other = "real-boundary", "other-boundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n\r\n'.encode() + png()
            + f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\n'.encode()
            + b"x" * (2 * MEGABYTE) + f"\r\n--{boundary}--\r\n".encode())  # fmt: skip
    headers = [("content-type", f"multipart/form-data; boundary={boundary}"),
               ("content-type", f"multipart/form-data; boundary={other}")]  # fmt: skip
    assert httpx.post(f"{url}gradio_api/upload", timeout=60, content=body, headers=headers).status_code == 413


@pytest.mark.parametrize(("disposition", "status"), [('form-data; name="files"', 400), ('form-data; name="files"; filename=""', 200)])
def test_a_files_part_without_a_file_name_is_refused_in_words(url: str, disposition: str, status: int) -> None:
    """Issue 23, item 8: a part with no filename got HTTP 500 ("File is not an instance of GradioUploadFile");
    an empty filename is a file still, which Gradio names itself."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: image/png\r\n\r\n").encode()
    body += png() + f"\r\n--{boundary}--\r\n".encode()
    response = httpx.post(f"{url}gradio_api/upload", timeout=60, content=body,
                          headers={"content-type": f"multipart/form-data; boundary={boundary}"})  # fmt: skip
    assert response.status_code == status, response.text
    assert ("must be a file, with a filename" in response.text) == (status == 400)
    assert httpx.get(f"{url}config", timeout=60).status_code == 200
