"""Where models come from: exact file lists, the models-folder layout, the Hub cache, and quick,
clear failures when a model is neither on disk nor reachable."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from ipa_demo.errors import MissingModelError
from ipa_demo.models.catalog import (
    DEFAULT_SPECS,
    DEPTH_ESTIMATORS,
    IMAGE_ENCODER,
    IP_ADAPTERS,
    KNOWN_MISSING,
    SD15,
    Kind,
    ModelSpec,
    depth_model_argument,
    known_missing_files,
)
from ipa_demo.models.download import cached_path
from ipa_demo.models.sources import ModelSources
from ipa_demo.models.specs import ALL_SPECS, SPECS_BY_KEY

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_every_spec_lists_exact_unique_files_inside_its_path() -> None:
    for spec in ALL_SPECS:
        assert spec.files and len(set(spec.files)) == len(spec.files), spec.key
        assert not any(char in name for name in spec.files for char in "*?[]"), spec.key
        if spec.kind is Kind.FILE:
            assert spec.files == (spec.path_in_repo,), spec.key
        elif spec.path_in_repo:
            assert all(name.startswith(spec.path_in_repo + "/") for name in spec.files), spec.key


def test_keys_are_unique_and_defaults_are_specs() -> None:
    assert len(SPECS_BY_KEY) == len(ALL_SPECS)
    assert set(DEFAULT_SPECS) <= set(ALL_SPECS)


def test_a_models_folder_has_the_hub_repo_layout(tiny_models_dir: Path) -> None:
    sources = ModelSources(tiny_models_dir)
    assert sources.resolve(SD15) == tiny_models_dir / "stable-diffusion-v1-5"
    assert sources.resolve(IMAGE_ENCODER) == tiny_models_dir / "IP-Adapter" / "models" / "image_encoder"
    assert (
        sources.resolve(IP_ADAPTERS["base"])
        == tiny_models_dir / "IP-Adapter" / "models" / "ip-adapter_sd15.safetensors"
    )


def test_missing_from_the_models_folder_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(MissingModelError, match=f"python -m ipa_demo download {tmp_path} --only sd15"):
        ModelSources(tmp_path).resolve(SD15)


def write_hub_cache(cache: Path, spec: ModelSpec, *, leave_out: tuple[str, ...] = ()) -> Path:
    """The layout huggingface_hub's cache has after downloading ``spec``; returns the snapshot folder."""
    repo = cache / f"models--{spec.repo_id.replace('/', '--')}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    for name in spec.files:
        if name not in leave_out:
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            (snapshot / name).write_text(json.dumps({"name": name}))
    return snapshot


def test_cached_components_resolve_without_the_network(tmp_path: Path) -> None:
    sd15 = write_hub_cache(tmp_path, SD15)
    ip_adapter = write_hub_cache(tmp_path, IP_ADAPTERS["base"])
    sources = ModelSources(hub_cache=tmp_path)
    assert sources.resolve(SD15) == sd15
    assert sources.resolve(IP_ADAPTERS["base"]) == ip_adapter / "models" / "ip-adapter_sd15.safetensors"


def test_a_partly_cached_component_counts_as_missing(tmp_path: Path) -> None:
    write_hub_cache(tmp_path, SD15, leave_out=("unet/diffusion_pytorch_model.fp16.safetensors",))
    with pytest.raises(MissingModelError, match="Stable Diffusion 1.5"):
        ModelSources(hub_cache=tmp_path).resolve(SD15)


RESOLVE_AND_TIME = """
import time
from ipa_demo.models.catalog import SD15
from ipa_demo.errors import MissingModelError
from ipa_demo.models.sources import ModelSources
from ipa_demo.models.specs import ALL_SPECS, SPECS_BY_KEY
start = time.perf_counter()
try:
    ModelSources().resolve(SD15)
    print("resolved")
except MissingModelError as error:
    print(f"{time.perf_counter() - start:.3f}")
    print(error)
"""


def resolve_in_subprocess(tmp_path: Path, **env: str) -> tuple[float, str]:
    """Resolve SD1.5 in a fresh interpreter: huggingface_hub reads HF_HOME and friends at import."""
    environment = os.environ | {"HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_DISABLE_TELEMETRY": "1"} | env
    done = subprocess.run(
        [sys.executable, "-c", RESOLVE_AND_TIME], cwd=REPO_ROOT, env=environment,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seconds, message = done.stdout.split("\n", 1)
    return float(seconds), message.strip()


def test_offline_with_an_empty_cache_fails_at_once_and_says_how_to_get_it(tmp_path: Path) -> None:
    seconds, message = resolve_in_subprocess(tmp_path, HF_HUB_OFFLINE="1")
    assert seconds < 2.0
    assert "\n" not in message
    assert "Stable Diffusion 1.5" in message and "HF_HUB_OFFLINE" in message
    assert "python -m ipa_demo download --only sd15" in message and "--models DIR" in message


def test_an_unreachable_hub_fails_within_two_seconds(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on: connections are refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    seconds, message = resolve_in_subprocess(tmp_path, HF_HUB_OFFLINE="0", HF_ENDPOINT=f"http://127.0.0.1:{port}")
    assert seconds < 2.0
    assert "\n" not in message
    assert "Stable Diffusion 1.5" in message and "cannot reach the Hugging Face Hub" in message
    assert "python -m ipa_demo download --only sd15" in message


PINNED = "fedcba9876543210fedcba9876543210fedcba98"


def test_a_pinned_revision_is_looked_up_at_that_commit_only(tmp_path: Path) -> None:
    main_snapshot = write_hub_cache(tmp_path, IP_ADAPTERS["base"])  # refs/main -> another commit
    pinned = replace(IP_ADAPTERS["base"], revision=PINNED)
    assert cached_path(IP_ADAPTERS["base"], tmp_path) == main_snapshot / "models" / "ip-adapter_sd15.safetensors"
    assert cached_path(pinned, tmp_path) is None  # main's files are not the pinned commit's
    snapshot = tmp_path / "models--h94--IP-Adapter" / "snapshots" / PINNED
    (snapshot / "models").mkdir(parents=True)
    (snapshot / "models" / "ip-adapter_sd15.safetensors").write_text("{}")
    assert cached_path(pinned, tmp_path) == snapshot / "models" / "ip-adapter_sd15.safetensors"


def test_the_catalog_flags_a_spec_that_names_a_known_missing_file() -> None:
    dpt = DEPTH_ESTIMATORS["dpt-hybrid-midas"]
    (missing,) = (entry for entry in KNOWN_MISSING if entry.repo_id == dpt.repo_id)
    assert (missing.repo_id, missing.path, missing.revision) == (dpt.repo_id, "model.safetensors", None)
    assert known_missing_files(dpt) == []  # the spec asks for the pickle that main has
    wrong = replace(dpt, files=("config.json", "preprocessor_config.json", "model.safetensors"))
    assert known_missing_files(wrong) == [missing]
    assert known_missing_files(replace(wrong, revision=PINNED)) == []  # another commit may have it


def test_depth_models_are_named_by_their_keys_and_a_bad_name_names_the_flag() -> None:
    assert all(SPECS_BY_KEY[name] is spec for name, spec in DEPTH_ESTIMATORS.items())
    assert depth_model_argument("dpt-hybrid-midas") == "dpt-hybrid-midas"
    with pytest.raises(argparse.ArgumentTypeError, match="'midas' is not a depth model.*IPA_DEPTH_MODEL"):
        depth_model_argument("midas")
