"""--ip-checkpoint: any IP-Adapter file, its variant told from its shapes, ≡ the catalog file it copies."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from ipa_demo.cli import main
from ipa_demo.engine import Engine
from ipa_demo.errors import CheckpointError
from ipa_demo.ip_adapter.user_checkpoint import read_user_checkpoint
from ipa_demo.metadata import read_png_parameters
from ipa_demo.models.catalog import IP_ADAPTERS
from ipa_demo.models.sources import ModelSources
from ipa_demo.settings import GenerationSettings, IPAdapterSettings

from ..helpers import noise_image


def catalog_file(models_dir: Path, variant: str) -> Path:
    return ModelSources(models_dir).local_path(IP_ADAPTERS[variant])


def as_bin(source: Path, target: Path) -> Path:
    state: dict[str, dict[str, torch.Tensor]] = {"image_proj": {}, "ip_adapter": {}}
    for key, tensor in load_file(str(source)).items():
        group, _, rest = key.partition(".")
        state[group][rest] = tensor
    torch.save(state, target)
    return target


@pytest.mark.parametrize("variant", ("base", "plus", "full-face"))
@pytest.mark.parametrize("suffix", (".safetensors", ".bin"))
def test_a_copied_checkpoint_is_told_apart_and_equals_the_catalog_file(
    engine: Engine, tiny_models_dir: Path, tmp_path: Path, reference, variant: str, suffix: str
) -> None:
    source = catalog_file(tiny_models_dir, variant)
    if suffix == ".bin":
        copy = as_bin(source, tmp_path / f"mine{suffix}")
    else:
        copy = Path(shutil.copyfile(source, tmp_path / f"mine{suffix}"))
    assert read_user_checkpoint(str(copy)).variant == variant
    user = Engine(ModelSources(tiny_models_dir), ip_checkpoint=str(copy))
    settings = GenerationSettings(
        prompt="a cat", seed=3, width=64, height=64, steps=3, ip=IPAdapterSettings(scale=0.8, variant=variant)
    )
    ours = user.generate(settings, [reference]).pixels
    assert np.abs(ours - engine.generate(settings, [reference]).pixels).max() <= 1e-4
    off = engine.generate(replace(settings, ip=IPAdapterSettings(scale=0.0))).pixels
    assert np.abs(ours - off).max() > 0.01, "the adapter must act, or the comparison proves nothing"


def test_the_user_file_is_the_one_loaded(tiny_models_dir: Path, tmp_path: Path, reference) -> None:
    state = load_file(str(catalog_file(tiny_models_dir, "base")))
    changed = {key: (tensor * 2 if key.startswith("ip_adapter.") else tensor) for key, tensor in state.items()}
    save_file(changed, str(tmp_path / "changed.safetensors"))
    settings = GenerationSettings(prompt="a cat", seed=3, width=64, height=64, steps=3, ip=IPAdapterSettings(scale=0.8))
    catalog = Engine(ModelSources(tiny_models_dir)).generate(settings, [reference]).pixels
    user = Engine(ModelSources(tiny_models_dir), ip_checkpoint=str(tmp_path / "changed.safetensors"))
    assert np.abs(user.generate(settings, [reference]).pixels - catalog).max() > 0.01


def test_files_of_no_known_variant_or_the_wrong_width_are_refused(tiny_models_dir: Path, tmp_path: Path) -> None:
    state = load_file(str(catalog_file(tiny_models_dir, "base")))
    face_id = {key: value for key, value in state.items() if not key.startswith("image_proj.")}
    face_id["image_proj.perceiver_resampler.proj_in.weight"] = torch.zeros(2, 2)
    save_file(face_id, str(tmp_path / "faceid.safetensors"))
    with pytest.raises(CheckpointError, match="FaceID checkpoint"):
        read_user_checkpoint(str(tmp_path / "faceid.safetensors"))
    odd = {key: value for key, value in state.items() if not key.startswith("image_proj.")}
    odd["image_proj.mystery.weight"] = torch.zeros(2, 2)
    save_file(odd, str(tmp_path / "odd.safetensors"))
    with pytest.raises(CheckpointError, match="no known IP-Adapter variant .*mystery.weight"):
        read_user_checkpoint(str(tmp_path / "odd.safetensors"))
    xl = {key: (torch.zeros(value.shape[0], 2048) if ".to_k_ip." in key else value) for key, value in state.items()}
    save_file(xl, str(tmp_path / "xl.safetensors"))
    with pytest.raises(CheckpointError, match=r"to_k_ip.weight is shape .*is it an SD 1.5 IP-Adapter\?"):
        Engine(ModelSources(tiny_models_dir), ip_checkpoint=str(tmp_path / "xl.safetensors"))
    with pytest.raises(CheckpointError, match="not an IP-Adapter checkpoint"):
        read_user_checkpoint(str(tiny_models_dir / "user-models" / "tiny-vae.safetensors"))


def test_the_cli_takes_the_variant_from_the_file(tiny_models_dir: Path, tmp_path: Path, capsys) -> None:
    copy = shutil.copyfile(catalog_file(tiny_models_dir, "plus"), tmp_path / "my-plus.safetensors")
    noise_image(64, 48, seed=2).save(tmp_path / "ref.png")
    code = main([
        "generate", "--models", str(tiny_models_dir), "--ip-checkpoint", str(copy), "--reference",
        str(tmp_path / "ref.png"), "--prompt", "a cat", "--steps", "2", "--width", "64", "--height", "64",
        "--seed", "1", "--out", str(tmp_path / "out"),
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    png = Path(capsys.readouterr().out.split()[0])
    assert f"IP-Adapter: {IP_ADAPTERS['plus'].key}" in read_png_parameters(png)
