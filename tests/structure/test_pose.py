"""Poses from photos: controlnet_aux's OpenPose, loaded safely, or a clear error naming the download."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from ipa_demo.engine import Engine
from ipa_demo.errors import MissingModelError, ModelLoadError
from ipa_demo.models.catalog import POSE_ESTIMATOR
from ipa_demo.models.loading import load_pose_estimator
from ipa_demo.models.sources import ModelSources
from ipa_demo.settings import ControlNetSettings, GenerationSettings, IPAdapterSettings, T2IAdapterSettings

from ..helpers import noise_image

POSED = GenerationSettings(prompt="a dancer", seed=3, width=64, height=64, steps=2, ip=IPAdapterSettings(scale=0.0))


def with_pose_weights(tiny_models_dir: Path, folder: Path, state: object) -> Path:
    """The tiny set plus an OpenPose body checkpoint (random weights at the real, fixed size)."""
    for entry in tiny_models_dir.iterdir():
        (folder / entry.name).symlink_to(entry)
    weights = folder / POSE_ESTIMATOR.repo_name / "body_pose_model.pth"
    weights.parent.mkdir()
    torch.save(state, weights)
    return folder


def random_body_checkpoint() -> dict[str, torch.Tensor]:
    from controlnet_aux.open_pose.model import bodypose_model

    torch.manual_seed(0)
    # The published file names each tensor without the model's first attribute ("conv1_1.weight").
    return {key.split(".", 1)[1]: value for key, value in bodypose_model().state_dict().items()}


def test_a_pose_from_a_photo_without_the_weights_names_the_download(engine: Engine) -> None:
    settings = GenerationSettings(**{**POSED.__dict__, "controlnet": ControlNetSettings(kind="openpose")})
    with pytest.raises(MissingModelError, match="--only openpose"):
        engine.generate(settings, control_image=noise_image(64, 64, seed=1))


def test_a_ready_pose_map_needs_no_estimator(engine: Engine) -> None:
    settings = GenerationSettings(
        **{**POSED.__dict__, "t2i": T2IAdapterSettings(kind="openpose"), "control_is_map": True}
    )
    result = engine.generate(settings, control_image=noise_image(64, 64, seed=1))
    assert set(result.control_maps) == {"openpose"} and "pose" not in engine.loaded


def test_a_pose_from_a_photo_is_made_at_the_generation_size(tiny_models_dir: Path, tmp_path: Path) -> None:
    models = with_pose_weights(tiny_models_dir, tmp_path, random_body_checkpoint())
    engine = Engine(ModelSources(models))
    settings = GenerationSettings(**{**POSED.__dict__, "controlnet": ControlNetSettings(kind="openpose")})
    result = engine.generate(settings, control_image=noise_image(80, 64, seed=2))
    assert result.control_maps["openpose"].size == (64, 64) and "pose" in engine.loaded


class Payload:
    def __reduce__(self):  # what a malicious pickle does: call something on load
        return (os.getpid, ())


def test_a_pose_checkpoint_is_read_as_weights_only(tmp_path: Path) -> None:
    folder = tmp_path / "Annotators"
    folder.mkdir()
    with open(folder / "body_pose_model.pth", "wb") as file:
        pickle.dump({"conv1_1.weight": Payload()}, file)
    with pytest.raises(ModelLoadError, match="body_pose_model.pth"):
        load_pose_estimator(folder, "cpu")
