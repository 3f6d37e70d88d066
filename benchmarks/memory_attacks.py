"""Peak memory a served app spends on requests that its limits refuse (or just admit), sent over HTTP.

Each case starts the app (``create_app`` on the tiny model set, served as ``app.py`` serves it) in a
fresh process, sends the request from this one, and reads the server's peak resident set size
(``VmHWM`` in ``/proc/<pid>/status``, Linux) before and after: the difference is what the request cost.
Cases: image-editor values (issue 23, item 3), the editor's blob store (item 2) and request bodies (item 4).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

MEGABYTE = 1024 * 1024
EDITOR_SIDE = 6000  # a grey PNG of 36 MP: a few KB on disk, 144 MB as RGBA


def serve(models: str, port: int) -> None:
    """In the server process: the app, served until killed."""
    from ipa_demo.engine import Engine
    from ipa_demo.models.sources import ModelSources
    from ipa_demo.ui.app import create_app, launch_options

    demo = create_app(Engine(ModelSources(Path(models))), with_examples=False)
    demo.launch(server_name="127.0.0.1", server_port=port, quiet=True, **launch_options())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc (Linux only)")


def upload(url: str, path: Path) -> dict[str, Any]:
    with path.open("rb") as file:
        response = httpx.post(f"{url}gradio_api/upload", files={"files": (path.name, file)}, timeout=60)
    response.raise_for_status()
    return {"path": response.json()[0], "meta": {"_type": "gradio.FileData"}, "orig_name": path.name}


def _outcome(send: Callable[[], httpx.Response]) -> str:
    try:
        response = send()
    except httpx.HTTPError as error:  # the server answered and closed while the body was still being sent
        return f"closed ({type(error).__name__})"
    return str(response.status_code)


def _editor(url: str, layers: int, grey: Path) -> dict[str, Any]:
    file = upload(url, grey)
    return {"background": None, "layers": [file] * layers, "composite": file}


def mask_helper(url: str, layers: int, grey: Path) -> str:
    """The unqueued helper behind "Add the drawing as the next mask", sent an editor value."""
    config = httpx.get(f"{url}config").json()
    fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "append_drawn_mask")
    body = {"data": [_editor(url, layers, grey), None], "fn_index": fn_index, "session_hash": uuid.uuid4().hex}
    return _outcome(lambda: httpx.post(f"{url}gradio_api/run/predict", json=body, timeout=600))


def generate_mask(url: str, layers: int, grey: Path) -> str:
    """/generate with an init image and an editor value as mask_image."""
    from ipa_demo.settings.values import PARAMS, default_values

    values = {**default_values(), "prompt": "x", "steps": 2, "width": 64, "height": 64, "seed": 1}
    values.update(init_image=upload(url, grey), mask_image=_editor(url, layers, grey))
    body = {"data": [values[name] for name in PARAMS]}
    return _outcome(lambda: httpx.post(f"{url}gradio_api/call/generate", json=body, timeout=600))


def blobs(url: str, index: int, count: int, size: int) -> str:
    """``count`` blobs of ``size`` bytes at layer ``index`` of the first editor, through component_server."""
    config = httpx.get(f"{url}config").json()
    editor = next(c["id"] for c in config["components"] if c["type"] == "imageeditor")
    outcomes = set()
    for _ in range(count):
        fields = {"session_hash": "s", "component_id": str(editor), "fn_name": "accept_blobs",
                  "id": uuid.uuid4().hex, "type": "layer", "index": str(index)}  # fmt: skip
        send = lambda: httpx.post(f"{url}gradio_api/component_server", data=fields,  # noqa: E731
                                  files={"file": ("blob", b"\0" * size)}, timeout=600)  # fmt: skip
        outcomes.add(_outcome(send))
    return ",".join(sorted(outcomes))


def _stream(megabytes: int, head: bytes = b"", tail: bytes = b"") -> Iterator[bytes]:
    yield head
    for _ in range(megabytes):
        yield b"x" * MEGABYTE
    yield tail


def json_body(url: str, route: str, megabytes: int) -> str:
    """A chunked JSON body of ``megabytes`` MB to ``route`` (no content-length)."""
    content = _stream(megabytes, b'{"data": ["', b'"]}')
    send = lambda: httpx.post(f"{url}{route}", content=content, headers={"content-type": "application/json"},  # noqa: E731
                              timeout=600)  # fmt: skip
    return _outcome(send)


def upload_field(url: str, megabytes: int) -> str:
    """One upload whose non-file field holds ``megabytes`` MB, beside a small file."""
    boundary = "ipa-memory-benchmark"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n\r\nhello\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\n').encode()  # fmt: skip
    content = _stream(megabytes, head, f"\r\n--{boundary}--\r\n".encode())
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    return _outcome(lambda: httpx.post(f"{url}gradio_api/upload", content=content, headers=headers, timeout=600))


def cases(grey: Path) -> dict[str, Callable[[str], str]]:
    return {
        "nothing (the server started)": lambda url: str(httpx.get(f"{url}config").status_code),
        "editor, 1 layer + composite of 6000² (72 MP, within the budget), mask helper": lambda url: mask_helper(url, 1, grey),
        "editor, 20 layers + composite of 6000², mask helper": lambda url: mask_helper(url, 20, grey),
        "editor, 20 layers + composite of 6000², /generate mask_image": lambda url: generate_mask(url, 20, grey),
        "blob, 1 byte at layer index 50,000,000": lambda url: blobs(url, 50_000_000, 1, 1),
        "blob, 20 × 1 MB at layer index 0": lambda url: blobs(url, 0, 20, 1_000_000),
        "body, 300 MB chunked JSON to /gradio_api/run/upload": lambda url: json_body(url, "gradio_api/run/upload", 300),
        "body, 300 MB chunked JSON to /gradio_api/call/upload": lambda url: json_body(url, "gradio_api/call/upload", 300),
        "body, 300 MB non-file field to /gradio_api/upload": lambda url: upload_field(url, 300),
    }  # fmt: skip


def measure_case(models: Path, attack: Callable[[str], str]) -> tuple[float, str]:
    """(the server's extra peak RSS in MB, the answer) for one attack on a fresh server."""
    port = _free_port()
    code = "import sys; from benchmarks.memory_attacks import serve; serve(sys.argv[1], int(sys.argv[2]))"
    server = subprocess.Popen([sys.executable, "-c", code, str(models), str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{url}config", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.5)
        before = peak_mb(server.pid)
        outcome = attack(url)
        time.sleep(1.0)
        return peak_mb(server.pid) - before, outcome
    finally:
        server.kill()
        server.wait()


def grey_png(folder: Path) -> Path:
    path = folder / "grey.png"
    Image.new("L", (EDITOR_SIDE, EDITOR_SIDE), 128).save(path)
    return path


def attack_table(models: Path, folder: Path) -> str:
    rows = []
    for name, attack in cases(grey_png(folder)).items():
        extra, outcome = measure_case(models, attack)
        rows.append(f"| {name} | {outcome} | {extra:.0f} MB |")
        print(rows[-1], flush=True)
    return "\n".join(["| request to the served app | answer | extra peak RSS |", "|---|---|---|", *rows])

