"""Which family a single-file checkpoint (the A1111 / ComfyUI layout) belongs to, from its tensor names only:
the file's header is read, never its weights, so the page can tell SDXL from SD 1.5 before anything loads.

SD 1.x files hold CLIP ViT-L as ``cond_stage_model.transformer.*``; SDXL base files both its encoders,
CLIP-L as ``conditioner.embedders.0.transformer.*`` and OpenCLIP bigG as ``conditioner.embedders.1.model.*``
(the refiner has only the second, under ``embedders.0``). The loader (``models.single_file``) reads the same keys.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from safetensors import safe_open

SD1_TEXT = "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight"
SDXL_TEXTS = (  # both of SDXL base's encoders
    "conditioner.embedders.0.transformer.text_model.embeddings.position_embedding.weight",
    "conditioner.embedders.1.model.positional_embedding",
)


def family_of_keys(keys: Collection[str]) -> str | None:
    """"sd15", "sdxl", or None for a file that is neither (the loader refuses it, saying what it is)."""
    present = set(keys)
    if SD1_TEXT in present:
        return "sd15"
    return "sdxl" if all(key in present for key in SDXL_TEXTS) else None


def file_family(path: Path) -> str | None:
    """A ``.safetensors`` checkpoint's family from its header; None for any other file or one that does not read."""
    if path.suffix.lower() != ".safetensors":
        return None
    try:
        with safe_open(str(path), framework="numpy") as file:
            return family_of_keys(list(file.keys()))
    except Exception:  # not safetensors, unreadable: the loader refuses it by name when a request runs it
        return None
