"""What an IP-Adapter file fits, told from its shapes before any weight is placed: the base model family
(SD 1.5 or SDXL, by its image cross-attention layers) and the image encoder (by the width its image
projection reads).

Pairing an SDXL adapter with the wrong encoder is the error users report most: ``ip-adapter_sdxl``
reads the ViT-bigG encoder's 1280-wide image embeds, the ``*_vit-h`` files the ViT-H encoder's
(1024 wide embeds, 1280 wide hidden states for plus); torch's answer is "size mismatch 1024 vs 1280"
somewhere inside the projection. This says which encoder the file needs instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import torch

from ..architecture import SD15, SDXL_CONFIG, Architecture, describe_folder
from ..errors import CheckpointError
from ..models.sources import ModelSources
from .user_checkpoint import UserCheckpoint, projection_variant

ENCODER_FOLDERS = {  # where h94/IP-Adapter keeps each encoder, for the refusal's words
    "ViT-bigG": "sdxl_models/image_encoder",
    "ViT-H": "models/image_encoder",
}


@cache
def known_architectures() -> tuple[Architecture, ...]:
    return (SD15, describe_folder(SDXL_CONFIG))


@dataclass(frozen=True)
class EncoderNeed:
    """What the image projection reads: CLIP's pooled image embeds (base, light, vit-h) or the
    penultimate hidden states (plus, plus-face, full-face), and how wide they must be."""

    hidden_states: bool
    width: int

    @property
    def what(self) -> str:
        return "hidden states" if self.hidden_states else "image embeds"


@dataclass(frozen=True)
class EncoderOutput:
    """What an image encoder gives (its ``CLIPVisionConfig``): embeds of ``projection_dim``, hidden
    states of ``hidden_size``."""

    embeds: int
    hidden: int

    @classmethod
    def of(cls, config: object) -> EncoderOutput:
        return cls(embeds=config.projection_dim, hidden=config.hidden_size)  # type: ignore[attr-defined]

    def width(self, need: EncoderNeed) -> int:
        return self.hidden if need.hidden_states else self.embeds


def encoder_need(image_proj: Mapping[str, torch.Tensor], path: Path) -> EncoderNeed:
    variant = projection_variant(set(image_proj), path)
    if variant == "plus":
        return EncoderNeed(hidden_states=True, width=image_proj["proj_in.weight"].shape[1])
    if variant == "full-face":
        return EncoderNeed(hidden_states=True, width=image_proj["proj.0.weight"].shape[1])
    return EncoderNeed(hidden_states=False, width=image_proj["proj.weight"].shape[1])


def check_image_encoder(need: EncoderNeed, encoder: EncoderOutput, adapter: str, encoder_name: str) -> None:
    """Refuse, in words, an image encoder whose output the adapter's projection cannot read."""
    given = encoder.width(need)
    if given == need.width:
        return
    folders = "; ".join(f"{name}: h94/IP-Adapter {folder}" for name, folder in ENCODER_FOLDERS.items())
    raise CheckpointError(
        f"The IP-Adapter {adapter} reads {need.width}-wide CLIP {need.what}, but the image encoder "
        f"{encoder_name} gives {given}-wide ones: it was trained with another encoder. ip-adapter_sdxl "
        f"needs ViT-bigG; ip-adapter_sdxl_vit-h, ip-adapter-plus(-face)_sdxl_vit-h and the SD 1.5 "
        f"adapters need ViT-H ({folders})."
    )


def checkpoint_architecture(ip_adapter: Mapping[str, torch.Tensor], path: Path) -> Architecture:
    """The base model family whose cross-attention layers the file's K'/V' pairs are numbered for."""
    numbers = {int(key.split(".", 1)[0]) for key in ip_adapter if key.endswith("to_k_ip.weight")}
    for architecture in known_architectures():
        if numbers == {block.checkpoint_id for block in architecture.blocks}:
            return architecture
    counts = ", ".join(f"{arch.title} {len(arch.blocks)}" for arch in known_architectures())
    raise CheckpointError(
        f"{path}: an IP-Adapter for {len(numbers)} cross-attention layers, which fits no base model this app "
        f"runs ({counts})"
    )


@dataclass(frozen=True)
class CheckpointKind:
    family: str  # "sd15" or "sdxl"
    variant: str  # the catalog variant whose file it can replace
    need: EncoderNeed


def checkpoint_kind(
    state: Mapping[str, Mapping[str, torch.Tensor]], path: Path, sdxl_bigg: EncoderOutput
) -> CheckpointKind:
    """Family, variant and encoder of an ``--ip-checkpoint`` file in the official layout.

    An SDXL file with a linear projection is ``base`` when it reads the ViT-bigG encoder's embeds
    (``sdxl_bigg``, the models folder's encoder) and ``vit-h`` otherwise; plus and plus-face share
    their shapes (as on SD 1.5), so both are told as ``plus``.
    """
    architecture = checkpoint_architecture(state["ip_adapter"], path)
    need = encoder_need(state["image_proj"], path)
    variant = projection_variant(set(state["image_proj"]), path)
    if architecture.family == "sdxl":
        if variant == "full-face":
            raise CheckpointError(f"{path}: a full-face IP-Adapter for SDXL, which h94 does not publish")
        if variant == "base" and need.width != sdxl_bigg.embeds:
            variant = "vit-h"
    return CheckpointKind(architecture.family, variant, need)


def check_fits_base_model(kind: CheckpointKind, base: Architecture, path: Path) -> None:
    """Refuse, in words, an ``--ip-checkpoint`` file made for the other family than the base model."""
    if kind.family != base.family:
        made_for = next(arch.title for arch in known_architectures() if arch.family == kind.family)
        raise CheckpointError(
            f"--ip-checkpoint {path} is an IP-Adapter for {made_for}, but the base model is {base.title}: "
            f"use an {base.title} IP-Adapter file, or start with an {made_for} base model (--base-model)"
        )


def fit_user_checkpoint(user: UserCheckpoint, base: Architecture, sources: ModelSources) -> UserCheckpoint:
    """An ``--ip-checkpoint`` file told apart by family and encoder, refused in words if it does not fit ``base``."""
    from .weights import read_checkpoint

    state = read_checkpoint(user.path)
    bigg = EncoderOutput(embeds=-1, hidden=-1)  # only SDXL files ask which encoder they read
    if base.family == "sdxl":
        from transformers import CLIPVisionConfig

        from ..models.catalog_sdxl import SDXL_IMAGE_ENCODER

        bigg = EncoderOutput.of(CLIPVisionConfig.from_pretrained(sources.resolve(SDXL_IMAGE_ENCODER)))
    kind = checkpoint_kind(state, user.path, bigg)
    check_fits_base_model(kind, base, user.path)
    return replace(user, variant=kind.variant, family=kind.family, need=kind.need)
