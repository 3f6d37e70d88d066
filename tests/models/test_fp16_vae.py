"""SDXL in float16 picks madebyollin/sdxl-vae-fp16-fix when the user names no VAE; an overflowing float16
VAE decodes through one float32 copy per loaded model, freed with the model. CPU only: the choice and the
copy's reuse are checked, not float16 arithmetic."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest
import torch
from diffusers import AutoencoderKL

from ipa_demo.engine import Engine
from ipa_demo.ip_adapter.inputs import NO_MORE, unit_requests
from ipa_demo.loop import decode
from ipa_demo.models.catalog import SD15
from ipa_demo.models.catalog_sdxl import SDXL_BASE, SDXL_VAE_FP16_FIX
from ipa_demo.models.fp16_vae import automatic_vae_path
from ipa_demo.models.loading import needs_upcast
from ipa_demo.models.sources import ModelSources
from ipa_demo.settings import GenerationSettings
from ipa_demo.settings.units import NO_UNIT_IMAGES

HALF = torch.float16


def _same_weights(ours: AutoencoderKL, folder: Path) -> bool:
    theirs = AutoencoderKL.from_pretrained(folder, torch_dtype=HALF).state_dict()
    return all(torch.equal(tensor, theirs[name]) for name, tensor in ours.state_dict().items())


def test_sdxl_in_float16_decodes_with_the_fp16_fix_and_says_so(tiny_models_dir: Path) -> None:
    sources = ModelSources(tiny_models_dir)
    models = Engine(sources, dtype=HALF, base_model=SDXL_BASE.repo_id).models
    assert models.vae_name == SDXL_VAE_FP16_FIX.repo_name  # the PNG's "VAE"
    assert _same_weights(models.vae, sources.local_path(SDXL_VAE_FP16_FIX))
    assert not needs_upcast(models.vae) and models.decoding_vae() is models.vae


def test_the_png_names_the_automatic_vae(tiny_models_dir: Path) -> None:
    engine = Engine(ModelSources(tiny_models_dir), dtype=HALF, base_model=SDXL_BASE.repo_id)
    settings = GenerationSettings(prompt="a cat")
    units = unit_requests(settings, [], NO_MORE, NO_UNIT_IMAGES)
    text = engine.parameters_text(settings, 1, units, [False] * len(units), img2img=False)
    assert f"VAE: {SDXL_VAE_FP16_FIX.repo_name}" in text


def test_a_users_vae_wins_and_float32_or_sd15_change_nothing(tiny_models_dir: Path) -> None:
    sources = ModelSources(tiny_models_dir)
    stock = sources.local_path(SDXL_BASE) / "vae"
    chosen = Engine(sources, dtype=HALF, base_model=SDXL_BASE.repo_id, vae=str(stock)).models
    assert chosen.vae_name == "vae" and needs_upcast(chosen.vae) and _same_weights(chosen.vae, stock)
    assert Engine(sources, base_model=SDXL_BASE.repo_id).models.vae_name is None  # float32
    assert Engine(sources, dtype=HALF).models.vae_name is None  # SD 1.5
    assert automatic_vae_path("sd15", HALF, sources) is None
    assert automatic_vae_path("sdxl", torch.float32, sources) is None


def test_without_the_fix_the_stock_vae_runs_and_the_log_says_how_to_get_it(tmp_path: Path, tiny_models_dir: Path) -> None:
    for spec in (SDXL_BASE, SD15):  # a models folder with both base models but not the fix
        (tmp_path / spec.repo_name).symlink_to(tiny_models_dir / spec.repo_name)
    said: list[str] = []
    assert automatic_vae_path("sdxl", HALF, ModelSources(tmp_path), said.append) is None
    assert "madebyollin/sdxl-vae-fp16-fix is not available" in said[0] and "--only sdxl-vae-fp16-fix" in said[0]
    models = Engine(ModelSources(tmp_path), dtype=HALF, base_model=SDXL_BASE.repo_id).models
    assert models.vae_name is None and needs_upcast(models.vae)
    said.clear()
    assert automatic_vae_path("sdxl", HALF, ModelSources(tiny_models_dir), said.append) is not None
    assert "decoding with madebyollin/sdxl-vae-fp16-fix" in said[0]


@pytest.fixture()
def stock_vae_engine(tiny_models_dir: Path) -> Engine:
    """SDXL in float16 with its own overflowing VAE, beside SD 1.5, one base model loaded at a time."""
    stock = ModelSources(tiny_models_dir).local_path(SDXL_BASE) / "vae"
    return Engine(ModelSources(tiny_models_dir), dtype=HALF, base_model=SDXL_BASE.repo_id, vae=str(stock),
                  base_model_options=[""], keep_base_models=1)  # fmt: skip


def test_the_float32_copy_is_made_once_per_model_and_freed_with_it(stock_vae_engine: Engine) -> None:
    models = stock_vae_engine.models
    latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0)).to(HALF)
    first = decode(models, latents)
    copy = models.decoding_vae()
    assert copy is not models.vae and copy.dtype == torch.float32 and models.vae.dtype == HALF
    second = decode(models, latents)
    assert models.decoding_vae() is copy and (first == second).all()  # the same copy, not a new one
    assert models.with_vae(models.vae).decoding_vae() is not copy  # another VAE, another copy
    freed = weakref.ref(copy)
    del models, copy
    with stock_vae_engine.serving(GenerationSettings(prompt="a cat", base_model=SD15.repo_name)):
        assert stock_vae_engine.models.architecture.family == "sd15"  # SDXL was let go (keep 1)
    gc.collect()
    assert freed() is None
