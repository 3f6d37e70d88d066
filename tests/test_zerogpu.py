"""ZeroGPU's duration estimate per base model family: SDXL's UNet cost is counted from its architecture
description (70 transformer blocks, wider stages, 1024x1024 by default), not from SD 1.5's constants."""

from __future__ import annotations

from pathlib import Path

import pytest

from ipa_demo import zerogpu
from ipa_demo.architecture import SD15, SDXL_CONFIG, describe_folder
from ipa_demo.engine import Engine
from ipa_demo.models.catalog_sdxl import SDXL_BASE
from ipa_demo.models.sources import ModelSources
from ipa_demo.settings import ControlNetSettings, GenerationSettings, IPAdapterSettings
from ipa_demo.zerogpu import estimate_gpu_seconds, served_architecture, step_seconds, unet_pass_flop

SDXL = describe_folder(SDXL_CONFIG)  # the real model's configs
ZERO_GPU_DEFAULT_SECONDS = 60  # what a task gets without a duration
ZERO_GPU_MAX_SECONDS = 300  # the most one task may ask for (5 minutes, said by Hugging Face's ZeroGPU team)


def test_the_count_matches_published_unet_costs() -> None:
    assert 0.5e12 < unet_pass_flop(SD15, 512, 512) < 0.81e12  # 0.80 TFLOP with the blocks not counted
    assert 5e12 < unet_pass_flop(SDXL, 1024, 1024) < 7e12  # SDXL base: about 6 TFLOP
    assert step_seconds(SD15, 512, 512) == pytest.approx(zerogpu.STEP_SECONDS)  # the measurement itself


def test_the_estimate_grows_with_the_family_and_the_size() -> None:
    def seconds(architecture, side: int) -> int:
        return estimate_gpu_seconds(GenerationSettings(prompt="a cat", width=side, height=side), 1, architecture)

    assert seconds(SDXL, 512) > seconds(SD15, 512)  # the same size: more layers, wider stages
    assert seconds(SDXL, 1024) > seconds(SDXL, 768) > seconds(SDXL, 512)
    assert step_seconds(SDXL, 1024, 1024) > 8 * step_seconds(SD15, 512, 512)
    assert step_seconds(SDXL, 1024, 768) == pytest.approx(step_seconds(SDXL, 768, 1024))


def test_an_sdxl_request_stays_within_zerogpus_limits() -> None:
    default = GenerationSettings(prompt="a cat", width=SDXL.default_size, height=SDXL.default_size, steps=30)
    assert estimate_gpu_seconds(default, 1, SDXL) <= ZERO_GPU_DEFAULT_SECONDS
    busy = GenerationSettings(prompt="a cat", width=1024, height=1024, steps=30, num_images=2,
                              ip=IPAdapterSettings(scale=0.6), controlnet=ControlNetSettings(kind="canny"))  # fmt: skip
    assert estimate_gpu_seconds(default, 1, SDXL) < estimate_gpu_seconds(busy, 1, SDXL) <= ZERO_GPU_MAX_SECONDS


def test_preload_on_zero_gpu_records_each_base_models_architecture(
    monkeypatch: pytest.MonkeyPatch, tiny_models_dir: Path
) -> None:
    monkeypatch.setattr(zerogpu, "_served", {})
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    engine = Engine(ModelSources(tiny_models_dir), base_model_options=[SDXL_BASE.repo_id])
    engine.base_models.preload()
    assert served_architecture("").family == "sd15"
    assert served_architecture(SDXL_BASE.repo_name).family == served_architecture(SDXL_BASE.repo_id).family == "sdxl"
    assert served_architecture("something else").family == "sdxl"  # unknown: the costliest, erring long
