"""``python -m ipa_demo train``: its flags, and bad input as one ``error:`` line with exit status 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ipa_demo.cli import build_parser, main
from ipa_demo.models.catalog import IP_ADAPTERS
from ipa_demo.models.catalog_sdxl import SDXL_BASE, SDXL_IP_ADAPTERS
from ipa_demo.models.tiny_user import LORA_FILE

from ..clean_exit import assert_exits_cleanly
from ..training_sets import captioned_folder

REPO = Path(__file__).resolve().parents[2]
SDXL = SDXL_BASE.repo_id
SD15_BASE_FILE = f"{IP_ADAPTERS['base'].repo_name}/{IP_ADAPTERS['base'].path_in_repo}"
SDXL_BASE_FILE = f"{SDXL_IP_ADAPTERS['base'].repo_name}/{SDXL_IP_ADAPTERS['base'].path_in_repo}"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--data", "{tmp}/nowhere"], "error: --data: no such file or folder"),
        (["--data", "{tmp}/empty"], "error: --data: no usable items"),
        (["--data", "{tmp}", "--lr", "0"], "error: --lr: must be above 0"),
        (["--data", "{tmp}", "--drop-text", "0.6", "--drop-image", "0.6"], "error: --drop-both: --drop-text + "),
        (["--data", "{tmp}", "--resolution", "60"], "error: --resolution: must be a multiple of 8"),
        (["--data", "{tmp}", "--resume", "latest"], "error: --resume: no checkpoint in"),
        (["--data", "{tmp}", "--sample-every", "5"], "error: --sample-reference: --sample-every needs"),
        (["--data", "{tmp}/d", "--models", "{tmp}/no-models"], "error: missing Stable Diffusion 1.5 base model"),
        (
            ["--data", "{tmp}/d", "--models", "{models}", "--init-from", "{tmp}/d/img00.txt"],
            "error: cannot read IP-Adapter",
        ),
        (
            ["--data", "{tmp}/d", "--models", "{models}", "--variant", "vit-h"],
            "error: --variant: SD 1.5 trains base or plus from scratch, not 'vit-h'; vit-h is an SDXL adapter",
        ),
        (
            ["--data", "{tmp}/d", "--models", "{models}", "--base-model", "nobody/no-model"],
            "error: --base-model: base model nobody/no-model: expected the folder",
        ),
        (
            ["--data", "{tmp}/d", "--models", "{models}", "--vae", "{tmp}/no-vae.safetensors"],
            "error: --vae: VAE '{tmp}/no-vae.safetensors' is neither an existing file",
        ),
        (
            ["--data", "{tmp}/d", "--models", "{models}", "--vae", "{models}/" + LORA_FILE],
            "error: --vae: {models}/" + LORA_FILE + " is not a VAE",
        ),
        (
            ["--data", "{tmp}/d", "--models", "{models}", "--base-model", SDXL, "--init-from", "{models}/" + SD15_BASE_FILE],
            "error: --init-from: {models}/" + SD15_BASE_FILE + " is an IP-Adapter for SD 1.5, but the base model is SDXL",
        ),
        (
            ["--data", "{tmp}/d", "--models", "{models}", "--base-model", SDXL, "--init-from", "{models}/" + SDXL_BASE_FILE,
             "--ip-variant", "plus"],
            "error: --variant: {models}/" + SDXL_BASE_FILE + " is a base adapter, not plus",
        ),
    ],
)
def test_bad_input_is_one_error_line(
    tmp_path: Path, tiny_models_dir: Path, capsys, flags: list[str], message: str
) -> None:
    (tmp_path / "empty").mkdir()
    captioned_folder(tmp_path / "d", count=2)
    args = [flag.format(tmp=tmp_path, models=tiny_models_dir) for flag in flags]
    assert main(["train", *args, "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(message.format(models=tiny_models_dir, tmp=tmp_path)) and error.count("\n") == 1, error


def test_the_readme_train_commands_use_real_flags() -> None:
    section = (REPO / "README.md").read_text().split("## Train an adapter", 1)[1].split("\n## ", 1)[0]
    train_parser = build_parser()._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
    known = {option for action in train_parser._actions for option in action.option_strings}
    accelerate_flags = {"--config_file", "--multi_gpu", "--num_processes"}
    used = set(re.findall(r"(--[a-z][a-z0-9_-]*)", section)) - accelerate_flags
    assert used <= known, used - known
    assert "--config_file configs/accelerate/zero2.yaml -m ipa_demo train" in section


def test_train_exits_cleanly_every_time_under_load(tiny_models_dir: Path, tmp_path: Path) -> None:
    """Once in about 14 runs, train aborted after its last step while its reading thread still ran."""
    data = captioned_folder(tmp_path / "d", count=4)
    common = ["train", "--data", str(data), "--models", str(tiny_models_dir), "--resolution", "64",
              "--batch-size", "2", "--steps", "3", "--workers", "1"]  # fmt: skip
    assert_exits_cleanly(lambda run: [*common, "--out", str(tmp_path / f"out{run}")], runs=4)
