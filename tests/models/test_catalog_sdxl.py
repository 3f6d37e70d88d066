"""The SDXL catalog entries: exact files, none known to be missing, each with a tiny twin."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ipa_demo.models.catalog import SD15_SPECS, IMAGE_ENCODER, known_missing_files
from ipa_demo.models.catalog_sdxl import (
    SDXL_CONTROLNETS,
    SDXL_IMAGE_ENCODER,
    SDXL_IP_ADAPTERS,
    SDXL_IP_ENCODERS,
    SDXL_SPECS,
    SDXL_T2I_ADAPTERS,
)
from ipa_demo.models.sources import ModelSources


def test_keys_are_unique_beside_the_sd15_catalog() -> None:
    keys = [spec.key for spec in (*SD15_SPECS, *SDXL_SPECS)]
    assert len(keys) == len(set(keys))


def test_every_spec_lists_exact_files_inside_its_path_and_none_known_missing() -> None:
    for spec in SDXL_SPECS:
        assert spec.files and len(set(spec.files)) == len(spec.files), spec.key
        assert all("*" not in name and name.startswith(spec.path_in_repo) for name in spec.files), spec.key
        assert known_missing_files(spec) == [], spec.key


def test_the_sdxl_adapters_and_their_encoders_are_h94s() -> None:
    assert [spec.path_in_repo for spec in SDXL_IP_ADAPTERS.values()] == [
        "sdxl_models/ip-adapter_sdxl.safetensors",
        "sdxl_models/ip-adapter_sdxl_vit-h.safetensors",
        "sdxl_models/ip-adapter-plus_sdxl_vit-h.safetensors",
        "sdxl_models/ip-adapter-plus-face_sdxl_vit-h.safetensors",
    ]
    assert SDXL_IP_ENCODERS["base"] is SDXL_IMAGE_ENCODER
    assert SDXL_IMAGE_ENCODER.path_in_repo == "sdxl_models/image_encoder"
    assert all(SDXL_IP_ENCODERS[variant] is IMAGE_ENCODER for variant in ("vit-h", "plus", "plus-face"))


def test_every_file_a_real_download_has_exists_in_the_tiny_set(tiny_models_dir: Path) -> None:
    sources = ModelSources(tiny_models_dir)
    for spec in SDXL_SPECS:
        assert sources.local_path(spec).exists(), spec.key
        for name in spec.files:
            path = tiny_models_dir / spec.repo_name / name
            if path.suffix == ".bin" and not path.exists():  # a real pickle; the twin is safetensors
                path = path.with_suffix(".safetensors")
            assert path.exists(), path


def test_the_files_people_expect_but_main_lacks_are_flagged() -> None:
    openpose = SDXL_CONTROLNETS["openpose"]
    wrong = replace(openpose, files=("config.json", "diffusion_pytorch_model.safetensors"))
    assert [missing.path for missing in known_missing_files(wrong)] == ["diffusion_pytorch_model.safetensors"]
    t2i = SDXL_T2I_ADAPTERS["openpose"]
    wrong = replace(t2i, files=("config.json", "diffusion_pytorch_model.fp16.safetensors"))
    assert [missing.path for missing in known_missing_files(wrong)] == ["diffusion_pytorch_model.fp16.safetensors"]
