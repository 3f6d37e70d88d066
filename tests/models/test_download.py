"""``python -m ipa_demo download``: exactly the spec files, in the layout the app reads, with sizes
on a dry run, and one clear line with exit status 2 when the Hub cannot be reached.

The Hub is unreachable here, so a fake stands in for ``HuggingFaceHub``; the real client is only
tested where it must fail fast (offline mode, a refused connection)."""

from __future__ import annotations

import re
import socket
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from ipa_demo.cli import main
from ipa_demo.models import download as download_module
from ipa_demo.models.catalog import IMAGE_ENCODER, IP_ADAPTERS, SD15
from ipa_demo.models.specs import ALL_SPECS
from ipa_demo.models.download import (
    HubError,
    HubUnreachableError,
    HuggingFaceHub,
    download,
    format_plan,
    human_size,
    plan,
    run,
)
from ipa_demo.models.sources import ModelSources

SIZES = {"model.safetensors": 2_528_373_448, "diffusion_pytorch_model.fp16.safetensors": 1_719_125_304}


class FakeHub:
    """Lists every spec file (plus one the app never loads) and 'downloads' small stand-ins."""

    def __init__(self, leave_out: tuple[str, ...] = ()) -> None:
        self.listed: list[str] = []
        self.fetched: list[tuple[str, str, Path | None]] = []
        self.repos: dict[str, dict[str, int | None]] = {}
        self.revisions: list[str | None] = []  # asked for, in order, by listings and fetches
        for spec in ALL_SPECS:
            files = self.repos.setdefault(spec.repo_id, {"README.md": 9_000, "unused/pytorch_model.bin": 10**9})
            files.update({name: SIZES.get(Path(name).name, 1_000) for name in spec.files if name not in leave_out})

    def file_sizes(self, repo_id: str, revision: str | None = None) -> dict[str, int | None]:
        self.listed.append(repo_id)
        self.revisions.append(revision)
        return dict(self.repos[repo_id])

    def fetch(
        self, repo_id: str, filename: str, local_dir: Path | None, cache_dir: Path | None, revision: str | None = None
    ) -> Path:
        self.fetched.append((repo_id, filename, local_dir))
        self.revisions.append(revision)
        if local_dir is None:  # the Hub cache: nothing to look at afterwards
            return Path(filename)
        (local_dir / filename).parent.mkdir(parents=True, exist_ok=True)
        (local_dir / filename).write_text("{}")
        return local_dir / filename


def test_dry_run_lists_each_component_s_files_with_sizes_and_fetches_nothing(capsys) -> None:
    hub = FakeHub()
    assert run(None, ["sd15", "image_encoder", "ip-adapter_sd15"], dry_run=True, hub=hub) == 0
    out = capsys.readouterr().out
    for spec in (SD15, IMAGE_ENCODER, IP_ADAPTERS["base"]):
        assert f"{spec.key}: {spec.description}" in out
        assert all(name in out for name in spec.files)
    assert re.search(r"\n +unet/diffusion_pytorch_model\.fp16\.safetensors +1\.72 GB\n", out)
    assert re.search(r"\n +models/image_encoder/model\.safetensors +2\.53 GB\n", out)
    expected_total = sum(hub.repos[spec.repo_id][name] or 0 for spec in (SD15, IMAGE_ENCODER, IP_ADAPTERS["base"])
                         for name in spec.files)  # fmt: skip
    assert out.rstrip().endswith(f"total: 3 components, {len(SD15.files) + 3} files, {human_size(expected_total)}")
    assert "README.md" not in out and "unused/" not in out
    assert hub.fetched == []
    assert hub.listed == ["stable-diffusion-v1-5/stable-diffusion-v1-5", "h94/IP-Adapter"]  # one listing per repo


def test_without_only_every_component_is_fetched(capsys) -> None:
    hub = FakeHub()
    assert run(None, [], dry_run=True, hub=hub) == 0
    out = capsys.readouterr().out
    assert all(f"{spec.key}: " in out for spec in ALL_SPECS)
    assert f"total: {len(ALL_SPECS)} components" in out


def test_download_into_a_folder_gives_the_models_layout(tmp_path: Path, capsys) -> None:
    hub = FakeHub()
    assert run(tmp_path, ["image_encoder", "ip-adapter_sd15"], dry_run=False, hub=hub) == 0
    assert hub.fetched == [
        ("h94/IP-Adapter", "models/image_encoder/config.json", tmp_path / "IP-Adapter"),
        ("h94/IP-Adapter", "models/image_encoder/model.safetensors", tmp_path / "IP-Adapter"),
        ("h94/IP-Adapter", "models/ip-adapter_sd15.safetensors", tmp_path / "IP-Adapter"),
    ]
    sources = ModelSources(tmp_path)  # what `--models DIR` reads
    assert (sources.resolve(IMAGE_ENCODER) / "model.safetensors").is_file()
    assert sources.resolve(IP_ADAPTERS["base"]).is_file()
    out = capsys.readouterr().out
    assert "[1/3] image_encoder: models/image_encoder/config.json (1.00 kB)" in out  # progress, file by file
    assert f"--models {tmp_path}" in out


def test_download_without_a_folder_goes_to_the_hub_cache(capsys) -> None:
    hub = FakeHub()
    assert run(None, ["ip-adapter_sd15_light"], dry_run=False, hub=hub) == 0
    assert hub.fetched == [("h94/IP-Adapter", "models/ip-adapter_sd15_light.safetensors", None)]
    assert "HF_HUB_OFFLINE=1" in capsys.readouterr().out


def test_a_file_missing_on_the_hub_is_named_and_nothing_is_fetched() -> None:
    hub = FakeHub(leave_out=("vae/diffusion_pytorch_model.fp16.safetensors",))
    with pytest.raises(HubError, match="sd15: vae/diffusion_pytorch_model.fp16.safetensors is not in"):
        run(None, ["sd15"], dry_run=False, hub=hub)
    assert hub.fetched == []


def test_offline_download_is_one_error_line_and_exit_2(capsys) -> None:
    start = time.perf_counter()
    assert main(["download", "--only", "sd15"]) == 2  # conftest sets HF_HUB_OFFLINE=1
    assert time.perf_counter() - start < 2.0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: HF_HUB_OFFLINE is set")


def test_offline_dry_run_still_lists_the_files(capsys) -> None:
    assert main(["download", "--dry-run", "--only", "ip-adapter_sd15"]) == 0
    captured = capsys.readouterr()
    assert re.search(r"models/ip-adapter_sd15\.safetensors +size unknown", captured.out)
    assert captured.err.startswith("warning: HF_HUB_OFFLINE is set")


@pytest.fixture
def refusing_hub(monkeypatch: pytest.MonkeyPatch) -> str:
    """huggingface_hub online, pointed at a local port that refuses connections."""
    from huggingface_hub import constants

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    return endpoint


def test_an_unreachable_hub_fails_fast_in_one_line(refusing_hub: str, capsys) -> None:
    start = time.perf_counter()
    with pytest.raises(HubUnreachableError, match=f"cannot reach the Hugging Face Hub at {refusing_hub}"):
        HuggingFaceHub().file_sizes("h94/IP-Adapter")
    assert main(["download", "--only", "ip-adapter_sd15"]) == 2
    assert time.perf_counter() - start < 2.0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach the Hugging Face Hub" in err


def test_the_real_client_lists_sizes_in_one_call_with_a_short_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub.hf_api import BlobLfsInfo, RepoSibling

    calls: list[dict] = []

    def model_info(self: object, repo_id: str, **kwargs: object) -> SimpleNamespace:
        calls.append({"repo_id": repo_id, **kwargs})
        lfs = BlobLfsInfo(size=44_642_768, sha256="0" * 64, pointer_size=134)
        return SimpleNamespace(siblings=[RepoSibling("models/ip-adapter_sd15.safetensors", size=134, lfs=lfs),
                                         RepoSibling("README.md", size=9_000)])  # fmt: skip

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    sizes = HuggingFaceHub().file_sizes("h94/IP-Adapter")
    assert sizes == {"models/ip-adapter_sd15.safetensors": 44_642_768, "README.md": 9_000}  # LFS: the real size
    (call,) = calls
    assert call["repo_id"] == "h94/IP-Adapter" and call["files_metadata"] is True
    assert call["timeout"].connect == download_module.CONNECT_TIMEOUT_S <= 2.0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("size", "text"),
    [(None, "size unknown"), (0, "0 B"), (999, "999 B"), (44_600_000, "44.60 MB"), (7_450_000_000, "7.45 GB")],
)
def test_human_sizes(size: int | None, text: str) -> None:
    assert human_size(size) == text


def test_a_pinned_revision_reaches_the_listing_the_fetch_and_the_dry_run(tmp_path: Path, capsys) -> None:
    pinned = replace(IP_ADAPTERS["base"], revision="fedcba9876543210fedcba9876543210fedcba98")
    hub = FakeHub()
    download([pinned], tmp_path, hub=hub, report=lambda line: None)
    assert hub.revisions == [pinned.revision, pinned.revision]  # one listing, one file
    print(format_plan(plan([pinned, IP_ADAPTERS["light"]], FakeHub()), None))
    out = capsys.readouterr().out
    assert f"(h94/IP-Adapter@{pinned.revision} -> " in out and "(h94/IP-Adapter -> " in out
