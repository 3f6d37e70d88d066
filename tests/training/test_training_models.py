"""What ``train`` loads: ``--vae`` in place of the base model's VAE, and a single-file base model."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from diffusers import AutoencoderKL

from ipa_demo.models.catalog import SD15
from ipa_demo.models.catalog_sdxl import SDXL_BASE
from ipa_demo.models.sources import ModelSources
from ipa_demo.models.tiny_sdxl_file import SDXL_SINGLE_FILE
from ipa_demo.models.tiny_user import SINGLE_FILE, VAE_FILE
from ipa_demo.training.models import load_training_models
from ipa_demo.training.options import TrainOptions

CPU = torch.device("cpu")


def same_weights(first: torch.nn.Module, second: torch.nn.Module) -> bool:
    a, b = first.state_dict(), second.state_dict()
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


def loaded(tmp_path: Path, tiny_models_dir: Path, **options: object):
    return load_training_models(TrainOptions(data=tmp_path, out=tmp_path / "out", models=str(tiny_models_dir),
                                             **options), CPU, torch.float32)  # type: ignore[arg-type]  # fmt: skip


def test_vae_replaces_the_base_models_vae_as_diffusers_reads_the_file(tmp_path: Path, tiny_models_dir: Path) -> None:
    own = loaded(tmp_path, tiny_models_dir).models.vae
    with_vae = loaded(tmp_path, tiny_models_dir, vae=str(tiny_models_dir / VAE_FILE)).models.vae
    config = ModelSources(tiny_models_dir).local_path(SD15)
    expected = AutoencoderKL.from_single_file(str(tiny_models_dir / VAE_FILE), config=str(config), subfolder="vae",
                                              local_files_only=True)  # fmt: skip
    assert same_weights(with_vae, expected)
    assert not same_weights(with_vae, own), "the tiny VAE file must differ from the base model's own"


@pytest.mark.parametrize(("single_file", "folder"), [(SINGLE_FILE, SD15), (SDXL_SINGLE_FILE, SDXL_BASE)])
def test_a_single_file_base_model_trains_the_weights_its_folder_has(
    tmp_path: Path, tiny_models_dir: Path, single_file: str, folder
) -> None:
    from_file = loaded(tmp_path, tiny_models_dir, base_model=str(tiny_models_dir / single_file))
    from_folder = loaded(tmp_path, tiny_models_dir, base_model=str(ModelSources(tiny_models_dir).local_path(folder)))
    assert from_file.architecture == from_folder.architecture
    assert same_weights(from_file.models.unet, from_folder.models.unet)
    assert same_weights(from_file.models.vae, from_folder.models.vae)
    assert same_weights(from_file.adapter, from_folder.adapter)  # the same fresh adapter for the same seed
