"""A base model's architecture before it loads: a folder's configs, or a single file's family told from its
tensor names (the header only), as the loader tells it: the tiny SDXL single file is SDXL, not SD 1.5."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from ipa_demo.architecture import SD15, SDXL, SDXL_CONFIG
from ipa_demo.architecture.checkpoint_keys import SD1_TEXT, SDXL_TEXTS, file_family
from ipa_demo.architecture.model_path import describe_path
from ipa_demo.models.tiny_sdxl_file import SDXL_SINGLE_FILE
from ipa_demo.models.tiny_user import SINGLE_FILE


def test_the_tiny_single_files_are_told_apart_by_their_keys(tiny_models_dir: Path) -> None:
    assert file_family(tiny_models_dir / SDXL_SINGLE_FILE) == "sdxl"
    assert describe_path(tiny_models_dir / SDXL_SINGLE_FILE) == SDXL
    assert len(describe_path(tiny_models_dir / SDXL_SINGLE_FILE).modules) == 11
    assert file_family(tiny_models_dir / SINGLE_FILE) == "sd15"
    assert describe_path(tiny_models_dir / SINGLE_FILE) == SD15


def _file(path: Path, *keys: str) -> Path:
    save_file({key: np.zeros((1,), dtype=np.float32) for key in keys}, str(path))
    return path


def test_only_both_sdxl_text_encoders_make_a_file_sdxl(tmp_path: Path) -> None:
    assert describe_path(_file(tmp_path / "xl.safetensors", *SDXL_TEXTS)) == SDXL
    assert describe_path(_file(tmp_path / "sd1.safetensors", SD1_TEXT)) == SD15
    refiner_like = _file(tmp_path / "half.safetensors", SDXL_TEXTS[1])
    assert file_family(refiner_like) is None and describe_path(refiner_like) == SD15  # the loader refuses it
    not_safetensors = tmp_path / "model.safetensors"
    not_safetensors.write_bytes(b"\x00" * 64)
    assert file_family(not_safetensors) is None and describe_path(not_safetensors) == SD15
    pickle = tmp_path / "model.ckpt"
    pickle.write_bytes(b"\x00" * 64)
    assert file_family(pickle) is None  # never opened: a .ckpt is refused by the loader


def test_folders_are_read_from_their_configs_as_before(tmp_path: Path) -> None:
    assert describe_path(SDXL_CONFIG) == SDXL
    assert describe_path(tmp_path) == SD15
