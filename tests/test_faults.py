"""Faults: broken model files are named, running out of memory is a message, and the engine recovers."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ipa_demo.engine import Engine
from ipa_demo.errors import CheckpointError, MissingModelError, ModelLoadError, OutOfMemoryError
from ipa_demo.models.sources import ModelSources
from ipa_demo.settings import GenerationSettings, IPAdapterSettings

SETTINGS = GenerationSettings(prompt="a boat", width=64, height=64, steps=2, ip=IPAdapterSettings(scale=0.5))


@pytest.fixture
def models_copy(tiny_models_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_models_dir, tmp_path / "models", symlinks=False))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:512])


def test_truncated_unet_names_the_folder(models_copy: Path) -> None:
    for weights in (models_copy / "stable-diffusion-v1-5" / "unet").glob("*.safetensors"):
        truncate(weights)
    with pytest.raises(ModelLoadError, match=r"stable-diffusion-v1-5"):
        Engine(ModelSources(models_copy))


def test_corrupt_ip_adapter_names_the_file(models_copy: Path, reference) -> None:
    truncate(models_copy / "IP-Adapter" / "models" / "ip-adapter_sd15.safetensors")
    engine = Engine(ModelSources(models_copy))
    with pytest.raises(CheckpointError, match="ip-adapter_sd15.safetensors"):
        engine.generate(SETTINGS, [reference])
    assert engine.generate(replace(SETTINGS, ip=IPAdapterSettings(scale=0.0))).images, "the engine still works"


def test_missing_image_encoder_says_where_it_was_expected(models_copy: Path, reference) -> None:
    shutil.rmtree(models_copy / "IP-Adapter" / "models" / "image_encoder")
    engine = Engine(ModelSources(models_copy))
    with pytest.raises(MissingModelError, match="image_encoder"):
        engine.generate(SETTINGS, [reference])


def test_out_of_memory_is_a_message_and_the_next_request_works(engine: Engine, reference, monkeypatch) -> None:
    before = engine.generate(SETTINGS, [reference]).pixels
    unet = engine.models.unet
    real_forward = unet.forward

    def exhausted(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(unet, "forward", exhausted)
    with pytest.raises(OutOfMemoryError, match="smaller size"):
        engine.generate(SETTINGS, [reference])
    monkeypatch.setattr(unet, "forward", real_forward)
    assert np.array_equal(engine.generate(SETTINGS, [reference]).pixels, before)


def test_a_stopped_run_leaves_no_state_behind(engine: Engine, reference) -> None:
    from ipa_demo.loop import GenerationCancelled
    from ipa_demo.settings import ReferenceOnlySettings

    busy = replace(SETTINGS, steps=4, reference_only=ReferenceOnlySettings(mode="attn+adain"))
    before = engine.generate(SETTINGS, [reference]).pixels

    def stop_after_two(done: int, _total: int) -> None:
        if done == 2:
            raise GenerationCancelled

    with pytest.raises(GenerationCancelled):
        engine.generate(busy, [reference], on_step=stop_after_two)
    assert np.array_equal(engine.generate(SETTINGS, [reference]).pixels, before)
