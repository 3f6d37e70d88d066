"""Device, precision and speed settings: what can be checked on a CPU.

On the CPU: the device line, channels_last leaving outputs unchanged, torch.compile refused with a
reason, and offload hooks moving each stage once per generation. Real CPU<->GPU traffic, fp16 and
compiled speed need a GPU and are not tested here."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ipa_demo.models.catalog import SD15
from ipa_demo.models.loading import StableDiffusionModels, load_stable_diffusion
from ipa_demo.models.sources import ModelSources
from ipa_demo.runtime import (
    ModelOffload,
    apply_speed_settings,
    check_compile_supported,
    describe_device,
    enable_model_offload,
    pick_device,
    prefers_channels_last,
)
from ipa_demo.settings import SettingsError


@pytest.fixture
def models(tiny_models_dir: Path) -> StableDiffusionModels:
    """A private copy: these tests change the modules in place."""
    return load_stable_diffusion(ModelSources(tiny_models_dir).resolve(SD15), "cpu", torch.float32)


def test_cpu_runs_in_fp32() -> None:
    assert pick_device("cpu") == (torch.device("cpu"), torch.float32)
    assert describe_device(torch.device("cpu"), torch.float32) == "cpu, fp32"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message for a machine without CUDA")
def test_asking_for_missing_cuda_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="no CUDA GPU"):
        pick_device("cuda")


def test_cuda_description_names_the_card_and_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    names = {0: "NVIDIA H100 80GB HBM3", 1: "NVIDIA L4"}
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index: names[index])
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert describe_device(torch.device("cuda"), torch.float16) == "cuda:0 NVIDIA H100 80GB HBM3, fp16"
    assert describe_device("cuda:1", torch.bfloat16) == "cuda:1 NVIDIA L4, bf16"


def test_channels_last_is_the_default_on_cuda_only() -> None:
    assert prefers_channels_last("cuda:0") and not prefers_channels_last("cpu")


def unet_output(models: StableDiffusionModels) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(2, 4, 16, 24, generator=generator)
    text = torch.randn(2, 77, models.unet.config.cross_attention_dim, generator=generator)
    with torch.no_grad():
        return models.unet(latents, 500, encoder_hidden_states=text, return_dict=False)[0]


def test_channels_last_keeps_unet_outputs(models: StableDiffusionModels) -> None:
    before = unet_output(models)
    apply_speed_settings(models, compile_unet=False, channels_last=True)
    assert models.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    assert (unet_output(models) - before).abs().max().item() <= 1e-5


def test_compile_is_refused_on_the_cpu_before_anything_changes(models: StableDiffusionModels) -> None:
    with pytest.raises(SettingsError, match="compile_unet: .*CUDA only"):
        apply_speed_settings(models, compile_unet=True, channels_last=True)
    assert models.unet._compiled_call_impl is None
    assert not models.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)


def test_compile_is_refused_on_zero_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    with pytest.raises(SettingsError, match="ZeroGPU does not support torch.compile"):
        check_compile_supported("cuda")


@torch.no_grad()
def generate(models: StableDiffusionModels) -> torch.Tensor:
    """The module calls of a 3-step generation, in the pipeline's order."""
    ids = models.tokenizer("a cat", padding="max_length", max_length=77, return_tensors="pt").input_ids
    text = models.text_encoder(ids.to(models.device))[0]
    latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(3)).to(models.device)
    for timestep in (900, 500, 100):
        latents = latents - 0.1 * models.unet(latents, timestep, encoder_hidden_states=text, return_dict=False)[0]
    return models.vae.decode(latents, return_dict=False)[0]


def test_offload_moves_each_stage_once_per_generation(models: StableDiffusionModels) -> None:
    expected = generate(models)
    offload = enable_model_offload(models)
    moves: list[str] = []
    original = offload.activate

    def activate(stage: str) -> None:
        if stage != offload.active:
            moves.append(stage)
        original(stage)

    offload.activate = activate  # type: ignore[method-assign]
    assert torch.equal(generate(models), expected)
    assert moves == ["text", "unet", "vae"]  # vae.decode never calls vae.forward: a child's hook caught it
    assert torch.equal(generate(models), expected)
    assert moves == ["text", "unet", "vae"] * 2


def test_offload_parks_modules_that_join_later_and_moves_stages_whole() -> None:
    offload = ModelOffload("cpu", storage="cpu")
    first, second = torch.nn.Linear(2, 2), torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU())
    offload.add(first, "a")
    offload.add(second, "b")
    second[0](torch.ones(1, 2))  # a child runs: its whole stage comes
    assert offload.active == "b"
    first(torch.ones(1, 2))
    assert offload.active == "a"
