"""An IP-Adapter file of the user's (``--ip-checkpoint``), its variant told by its image projection.

The four SD1.5 variants differ in how they turn CLIP's output into image tokens, and the
projection's weights say which: a linear layer and a norm (base and light, which differ only in
training, not in shapes), a Resampler with learned latents (plus), or an MLP over every hidden
state (full-face). The file then takes the place of the catalog's file for that variant.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CheckpointError

if TYPE_CHECKING:
    from .checkpoint_kind import EncoderNeed

IP_CHECKPOINT_ENV = "IPA_IP_CHECKPOINT"


@dataclass(frozen=True)
class UserCheckpoint:
    path: Path
    variant: str  # the catalog variant whose file it replaces
    family: str = "sd15"  # the base model family its layers are numbered for (told once the base model loads)
    need: EncoderNeed | None = None  # what its projection reads, checked against the image encoder


def projection_variant(projection_keys: set[str], path: Path) -> str:
    if any(key.startswith("perceiver_resampler.") for key in projection_keys):
        raise CheckpointError(f"{path} is an IP-Adapter FaceID checkpoint (it needs face embeddings): not supported")
    if "latents" in projection_keys:
        return "plus"
    if {"proj.0.weight", "proj.2.weight", "proj.3.weight"} <= projection_keys:
        return "full-face"
    if {"proj.weight", "norm.weight"} <= projection_keys:
        return "base"
    shown = ", ".join(sorted(projection_keys)[:4])
    raise CheckpointError(f"{path}: an image projection of no known IP-Adapter variant (image_proj keys: {shown})")


def read_user_checkpoint(text: str) -> UserCheckpoint:
    """Check the file now (exists, is an IP-Adapter, which variant); its K/V shapes are checked at load."""
    path = Path(text).expanduser()
    if not path.is_file():
        raise CheckpointError(f"IP-Adapter checkpoint {path} does not exist")
    if path.suffix.lower() not in (".safetensors", ".bin"):
        raise CheckpointError(f"{path}: IP-Adapter checkpoints are read from .safetensors or .bin files")
    from .weights import read_checkpoint  # torch: only when a file is read, not to parse flags
    state = read_checkpoint(path)
    return UserCheckpoint(path, projection_variant(set(state["image_proj"]), path))


def add_ip_checkpoint_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ip-checkpoint",
        default=os.environ.get(IP_CHECKPOINT_ENV) or None,
        help="an IP-Adapter file (.safetensors, or .bin read without running code) used in place of the "
        f"catalog's file of its variant, which is told from its shapes (default: ${IP_CHECKPOINT_ENV})",
    )
