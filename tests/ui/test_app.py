"""The app's public API on the tiny model set, driven with gradio_client.

One test starts ``python app.py`` as a user would; the others serve the same ``create_app`` in
this process, which starts in a second instead of half a minute.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import gradio as gr
import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import ValidationError
from PIL import Image

from ipa_demo.architecture.layers import MASK_PRESETS
from ipa_demo.engine import Engine
from ipa_demo.metadata import read_png_parameters
from ipa_demo.settings import GenerationSettings, IPAdapterSettings
from ipa_demo.settings.parameters import format_parameters
from ipa_demo.settings.values import PARAMS
from ipa_demo.ui.app import create_app
from ipa_demo.ui.inpaint_handler import TAB_INPUTS

from ..helpers import noise_image

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 180  # importing torch, diffusers and gradio on two busy cores


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def launched_app(models: Path, log: Path, *flags: str) -> Iterator[str]:
    """Run app.py as a user would, on a free port, until the block ends; yields its URL."""
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "OMP_NUM_THREADS": "1",
        # Its own upload folder: an in-process app of this worker that closes deletes the files it
        # holds, which may be this app's copies of the same example images (same content, same path).
        "GRADIO_TEMP_DIR": str(log.parent / f"gradio-{port}"),
    }
    command = [
        sys.executable,
        str(ROOT / "app.py"),
        "--models",
        str(models),
        "--port",
        str(port),
        "--threads",
        "1",
        *flags,
    ]
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"app.py exited with {process.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not answer within {START_SECONDS} s:\n{log.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def served(demo: gr.Blocks, **options: object) -> Iterator[str]:
    """The same app in this process (quicker to start than app.py); yields its URL.

    ``options`` go to ``demo.launch``, such as ``ipa_demo.ui.launch_options()`` as app.py passes them.
    """
    for attempt in range(2):
        port = free_port()
        try:
            demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **options)
            break
        except ValueError as error:  # Gradio's start-up probe ("localhost is not accessible") gives up on a
            # single 3 s timeout, which a loaded CI machine met once; a second try on a fresh port, then fail.
            demo.close()
            if attempt or "localhost is not accessible" not in str(error):
                raise
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


@pytest.fixture(scope="module")
def client(engine: Engine) -> Iterator[Client]:
    with served(create_app(engine)) as url:
        yield Client(url, verbose=False)


@pytest.fixture(scope="module")
def reference_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("inputs") / "reference.png"
    noise_image(80, 64, seed=4).save(path)
    return str(path)


def small(**overrides: object) -> dict[str, object]:
    return {"prompt": "a red bicycle", "steps": 2, "width": 64, "height": 64, "seed": 21, "ip_scale": 0.0, **overrides}


def gallery_parameters(gallery: list[dict[str, str]]) -> list[str | None]:
    return [read_png_parameters(Path(item["image"])) for item in gallery]


def test_app_py_starts_offline_and_serves_the_api(tiny_models_dir: Path, tmp_path: Path, reference_file: str) -> None:
    with launched_app(tiny_models_dir, tmp_path / "app.log", "--queue-size", "4") as url:
        client = Client(url, verbose=False)
        request = small(reference_images=[{"image": handle_file(reference_file)}], ip_scale=0.8, seed=31)
        gallery, used_seed, *_ = client.predict(**request, api_name="/generate")
        settings = GenerationSettings(
            prompt="a red bicycle", seed=31, width=64, height=64, steps=2, base_model="stable-diffusion-v1-5"
        )
        wanted = format_parameters(replace(settings, ip=IPAdapterSettings(scale=0.8)), 31, ip_used=True, img2img=False)
        assert used_seed == 31 and gallery_parameters(gallery) == [wanted]
        bad_file = tmp_path / "holiday.png"
        bad_file.write_text("this is not an image")
        with pytest.raises(ValidationError, match="- reference_images: holiday.png cannot be read as an image"):
            client.predict(**small(reference_images=[{"image": handle_file(str(bad_file))}]), api_name="/generate")


def test_only_the_five_gpu_events_are_public(client: Client) -> None:
    api = client.view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == {"/generate", "/inpaint", "/compare", "/sweep", "/injection_maps"}
    assert not api["unnamed_endpoints"], "helper events must stay private"
    for name, endpoint in api["named_endpoints"].items():
        axes = {"/sweep": ["x_axis", "y_axis"], "/inpaint": list(TAB_INPUTS)}.get(name, [])
        assert [parameter["parameter_name"] for parameter in endpoint["parameters"]] == [*PARAMS, *axes]


def test_generate_returns_pngs_whose_parameters_match_the_request(client: Client, reference_file: str) -> None:
    request = small(
        negative_prompt="blurry, lowres",
        reference_images=[{"image": handle_file(reference_file)}],
        ip_scale=0.6,
        ip_layers=MASK_PRESETS["style+composition"],
        ip_stage_up1=0.5,
        ip_end=0.8,
        steps=3,
        guidance=5.0,
        scheduler="Euler a",
        num_images=2,
        seed=1234,
    )
    gallery, used_seed, _slider, _maps, parameters = client.predict(**request, api_name="/generate")

    expected = GenerationSettings(
        prompt="a red bicycle",
        negative_prompt="blurry, lowres",
        seed=1234,
        width=64,
        height=64,
        steps=3,
        guidance=5.0,
        scheduler="Euler a",
        num_images=2,
        ip=IPAdapterSettings(
            scale=0.6, mask=MASK_PRESETS["style+composition"], stage_weights=(1, 1, 1, 1, 0.5, 1, 1), end=0.8
        ),
        base_model="stable-diffusion-v1-5",  # the model that ran, by name (the request named none)
    )
    wanted = [format_parameters(expected, seed, ip_used=True, img2img=False) for seed in (1234, 1235)]
    assert gallery_parameters(gallery) == wanted
    assert [item["caption"] for item in gallery] == ["seed 1234", "seed 1235"]
    assert used_seed == 1234 and parameters == wanted[0]
    assert all(Image.open(item["image"]).size == (64, 64) for item in gallery)


def test_seed_minus_one_is_drawn_and_reported(client: Client) -> None:
    gallery, used_seed, *_ = client.predict(**small(seed=-1), api_name="/generate")
    assert 0 <= used_seed < 2**32
    text = gallery_parameters(gallery)[0] or ""
    assert f"Seed: {used_seed}," in text
    assert "IP-Adapter" not in text, "λ = 0 runs without the adapter"


def test_img2img_records_its_strength(client: Client, reference_file: str) -> None:
    gallery, *_ = client.predict(
        **small(steps=4, strength=0.5, init_image=handle_file(reference_file)), api_name="/generate"
    )
    assert "Denoising strength: 0.5" in (gallery_parameters(gallery)[0] or "")


def test_compare_returns_labelled_pngs_with_parameters(client: Client, reference_file: str) -> None:
    request = small(reference_images=[{"image": handle_file(reference_file)}], ip_scale=0.7, seed=77)
    gallery, table, grid, used_seed, note = client.predict(**request, api_name="/compare")
    captions = " ".join(item["caption"] for item in gallery).lower()
    for method in ("reference", "img2img", "ip-adapter"):
        assert method in captions
    assert len(table["data"]) == len(gallery)
    texts = gallery_parameters(gallery)
    assert all(text and "Seed: 77," in text for text in texts)
    assert used_seed == 77 and "77" in note
    assert Image.open(grid).format == "PNG"


def test_generate_shows_the_preprocessed_control_map(client: Client) -> None:
    request = small(control_image=handle_file(str(ROOT / "assets" / "chelsea.jpg")), controlnet="canny", t2i="depth")
    gallery, _, _, maps, parameters = client.predict(**request, api_name="/generate")
    assert sorted(item["caption"] for item in maps) == ["canny", "depth"]
    assert all(Image.open(item["image"]).size == (64, 64) for item in maps)
    assert "ControlNet: canny" in parameters and "T2I-Adapter: depth" in parameters


def test_compare_with_a_control_image_adds_ip_adapter_with_structure(client: Client, reference_file: str) -> None:
    request = small(
        reference_images=[{"image": handle_file(reference_file)}],
        ip_scale=0.7,
        control_image=handle_file(str(ROOT / "assets" / "house-edges.png")),
        control_is_map=True,
        controlnet="canny",
    )
    gallery, table, *_ = client.predict(**request, api_name="/compare")
    labels = [row[0] for row in table["data"]]
    assert len(labels) == len(gallery) == 4
    assert "IP-Adapter + ControlNet canny" in labels
    assert "ControlNet: canny" in (gallery_parameters(gallery)[3] or "")


@pytest.mark.parametrize(
    ("overrides", "parameter"),
    [
        ({"ip_scale": 5.0}, "ip_scale"),
        ({"steps": 2.5}, "steps"),
        ({"seed": 1.5}, "seed"),
        ({"width": 65}, "width"),
        ({"ip_layers": "0101"}, "ip_layers"),
        ({"ip_stage_mid": -1.0}, "ip_stage_mid"),
        ({"scheduler": "LMS"}, "scheduler"),
        ({"controlnet": "canny"}, "control_image"),
        ({"ip_scale": 0.7}, "reference_images"),
        ({"reference_images": "not-an-image"}, "reference_images"),
        ({"init_image": "not-an-image"}, "init_image"),
    ],
    ids=lambda value: value if isinstance(value, str) else ",".join(value),
)
def test_bad_values_and_uploads_are_rejected_by_name(client: Client, tmp_path: Path, overrides, parameter) -> None:
    bad_file = tmp_path / "holiday.png"
    bad_file.write_text("this is not an image")
    for name, value in overrides.items():
        if value == "not-an-image":
            upload = handle_file(str(bad_file))
            overrides = {**overrides, name: [{"image": upload}] if name == "reference_images" else upload}
    with pytest.raises(ValidationError, match=rf"- {parameter}: "):
        client.predict(**small(**overrides), api_name="/generate")


def test_compare_without_a_reference_is_rejected(client: Client) -> None:
    """With λ above 0 too: the generic "or set ip_scale to 0" would not help Compare."""
    for ip_scale in (0.0, 0.7):
        with pytest.raises(ValidationError, match=r"- reference_images: Compare needs a reference image") as error:
            client.predict(**small(ip_scale=ip_scale), api_name="/compare")
        assert "ip_scale" not in str(error.value)


def test_a_control_image_that_nothing_uses_is_rejected(client: Client) -> None:
    house = handle_file(str(ROOT / "assets" / "house-edges.png"))
    for api_name in ("/generate", "/compare"):
        with pytest.raises(ValidationError, match=r"- control_image: ControlNet and T2I-Adapter are both “none”"):
            client.predict(
                **small(control_image=house, reference_images=[handle_file(str(ROOT / "assets" / "chelsea.jpg"))]),
                api_name=api_name,
            )


def test_plain_files_work_as_reference_images(client: Client, reference_file: str) -> None:
    """``[handle_file(path)]``, the form a gradio_client user writes first, means the same as the gallery's own."""
    request = small(ip_scale=0.7, seed=5)
    plain, *_ = client.predict(**request, reference_images=[handle_file(reference_file)], api_name="/generate")
    wrapped, *_ = client.predict(
        **request, reference_images=[{"image": handle_file(reference_file), "caption": None}], api_name="/generate"
    )
    assert Image.open(plain[0]["image"]).tobytes() == Image.open(wrapped[0]["image"]).tobytes()
    gallery, *_ = client.predict(**request, reference_images=[handle_file(reference_file)], api_name="/compare")
    assert len(gallery) == 3


def test_the_readmes_api_call_works(client: Client, reference_file: str) -> None:
    """The README's gradio_client snippet, run as written but for the address, the file and a quick size."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    snippet = next(block for block in re.findall(r"```python\n(.*?)```", readme, re.DOTALL) if "client.predict" in block)
    snippet = (
        snippet.replace('"http://127.0.0.1:7860"', repr(client.src))
        .replace('"cat.jpg"', repr(reference_file))
        .replace("steps=30,", "steps=2, width=64, height=64,")
    )
    scope: dict[str, object] = {}
    exec(snippet, scope)  # noqa: S102 (our own README)
    assert scope["seed"] == 42 and "IP layers: 0000000111000000" in str(scope["parameters"])


def test_every_output_has_a_label_in_the_api(client: Client) -> None:
    api = client.view_api(return_format="dict", print_info=False)
    labels = [item["label"] for endpoint in api["named_endpoints"].values() for item in endpoint["returns"]]
    assert "Note" in labels and not [label for label in labels if label.startswith("value_")]


def test_png_parameters_rebuild_the_request(client: Client, reference_file: str) -> None:
    """What "load settings from a PNG" relies on: the text in a PNG from /generate is the request."""
    from ipa_demo.settings.parameters import settings_from_parameters

    request = small(reference_images=[{"image": handle_file(reference_file)}], ip_scale=1.1, ip_start=0.25, seed=9)
    gallery, *_ = client.predict(**request, api_name="/generate")
    settings = settings_from_parameters(gallery_parameters(gallery)[0] or "")
    assert settings == replace(
        GenerationSettings(
            prompt="a red bicycle", seed=9, width=64, height=64, steps=2, base_model="stable-diffusion-v1-5"
        ),
        ip=IPAdapterSettings(scale=1.1, start=0.25),
    )


def app_module() -> types.ModuleType:
    """app.py imported as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("app_under_test", ROOT / "app.py")
    assert spec is not None and spec.loader is not None
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    return app


def test_flags_win_over_environment_and_a_space_gets_its_address(monkeypatch: pytest.MonkeyPatch) -> None:
    app = app_module()
    for name in ("IPA_HOST", "IPA_PORT", "IPA_MODELS_DIR", "GRADIO_SERVER_NAME", "GRADIO_SERVER_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert (app.parse_args([]).host, app.parse_args([]).port) == ("127.0.0.1", 7860)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("IPA_MODELS_DIR", "/models")
    assert (app.parse_args([]).host, app.parse_args([]).models) == ("0.0.0.0", "/models")
    monkeypatch.setenv("IPA_HOST", "10.1.2.3")
    assert app.parse_args([]).host == "10.1.2.3"
    assert app.parse_args(["--host", "::1", "--port", "9000"]).port == 9000


STUB_SPACES = '''
import os


def GPU(duration=None):  # the stub records that app.py wrapped its GPU handlers, then calls them
    def wrap(handler):
        with open(os.environ["STUB_SPACES_LOG"], "a") as log:
            log.write(f"wrapped {handler.__name__}\\n")
        return handler

    return wrap
'''


@pytest.mark.parametrize("zero_gpu", [False, True], ids=["plain", "stubbed-zerogpu"])
def test_app_py_launches_with_and_without_zero_gpu(
    tiny_models_dir: Path, tmp_path: Path, reference_file: str, monkeypatch: pytest.MonkeyPatch, zero_gpu: bool
) -> None:
    log = tmp_path / "spaces.log"
    if zero_gpu:
        (tmp_path / "spaces.py").write_text(STUB_SPACES)
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
        monkeypatch.setenv("SPACES_ZERO_GPU", "true")
        monkeypatch.setenv("STUB_SPACES_LOG", str(log))
    else:
        monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    with launched_app(tiny_models_dir, tmp_path / "app.log") as url:
        gallery, *_ = Client(url, verbose=False).predict(
            **small(reference_images=[{"image": handle_file(reference_file)}], seed=3), api_name="/generate"
        )
        assert len(gallery) == 1
    wrapped = log.read_text().split() if log.exists() else []
    gpu_events = ["generate", "inpaint", "compare", "sweep", "injection_maps"]
    assert wrapped[::2] == ["wrapped"] * len(wrapped[1::2])
    assert sorted(wrapped[1::2]) == (sorted(gpu_events) if zero_gpu else [])
