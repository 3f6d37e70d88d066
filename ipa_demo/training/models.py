"""What a training run loads: the base model (``--base-model``: SD 1.5 or SDXL, told from its UNet; a
diffusers folder, a Hub id or a single ``.safetensors``), its VAE or ``--vae``'s, the
image encoder the chosen variant reads, and the adapter, fresh or from ``--init-from``.

Nothing here is SD 1.5's own: the layers, the text width, the encoders and the default resolution come
from the loaded models and their architecture description; the image encoder from the family's catalog
(SDXL base: ViT-bigG; vit-h and plus: ViT-H).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from ..architecture import Architecture
from ..errors import CheckpointError, MissingModelError, ModelLoadError, VAELoadError
from ..ip_adapter.checkpoint_kind import (
    CheckpointKind,
    EncoderOutput,
    check_image_encoder,
    checkpoint_kind,
    known_architectures,
)
from ..ip_adapter.weights import IPAdapterWeights, read_checkpoint
from ..models.base_model import load_base_model, resolve_base_model, resolve_vae
from ..models.catalog import ModelSpec
from ..models.catalog_sdxl import SDXL_IMAGE_ENCODER
from ..models.families import catalog_for
from ..models.loading import StableDiffusionModels, load_image_encoder
from ..models.sources import ModelSources
from ..settings import SettingsError
from ..unet_setup import prepare_unet
from .adapter import adapter_from_checkpoint, new_adapter
from .options import TrainOptions, check_trainable


@dataclass(frozen=True)
class TrainingModels:
    models: StableDiffusionModels
    image_encoder: CLIPVisionModelWithProjection
    adapter: IPAdapterWeights
    variant: str  # the family's variant: base, vit-h or plus (or light / full-face / plus-face from --init-from)
    resolution: int  # --resolution, else the size the base model was trained at

    @property
    def architecture(self) -> Architecture:
        return self.models.architecture


def load_training_models(options: TrainOptions, device: torch.device, dtype: torch.dtype) -> TrainingModels:
    sources = ModelSources.from_env(options.models)
    models = _base_models(options, sources, device, dtype)
    prepare_unet(models.unet)
    architecture = models.architecture
    kind = _init_kind(options.init_from, architecture, sources) if options.init_from is not None else None
    if kind is not None:
        variant = kind.variant
        if options.variant is not None and options.variant != variant:
            raise SettingsError("--variant", f"{options.init_from} is a {variant} adapter, not {options.variant}")
    else:
        variant = options.variant or "base"
        check_trainable(variant, architecture.family, architecture.title)
    encoder_spec = _encoder_spec(architecture, variant)
    image_encoder = load_image_encoder(sources.resolve(encoder_spec), device, dtype)
    if kind is not None and options.init_from is not None:
        output = EncoderOutput.of(image_encoder.config)
        check_image_encoder(kind.need, output, options.init_from.name, encoder_spec.repo_name)
        adapter = adapter_from_checkpoint(options.init_from, models.unet)
    else:
        torch.manual_seed(options.seed)  # the image projection's initial weights (K'/V' copy the UNet's)
        vision = image_encoder.config
        adapter = new_adapter(models.unet, variant, vision.projection_dim, vision.hidden_size)
    resolution = options.resolution or architecture.default_size
    return TrainingModels(models, image_encoder, adapter.train().requires_grad_(True), variant, resolution)


def _base_models(options: TrainOptions, sources: ModelSources, device: torch.device,
                 dtype: torch.dtype) -> StableDiffusionModels:  # fmt: skip
    """``--base-model`` with ``--vae`` (or its own VAE), a failure refused naming the flag at fault."""
    try:
        vae = resolve_vae(options.vae, sources)
    except (MissingModelError, ModelLoadError) as error:
        raise SettingsError("--vae", str(error)) from None
    try:
        base = resolve_base_model(options.base_model, sources)
    except (MissingModelError, ModelLoadError) as error:
        if options.base_model is None:  # the catalog's SD 1.5: the message says what to download
            raise
        raise SettingsError("--base-model", str(error)) from None
    try:
        models = load_base_model(base, vae, sources, device, dtype)
    except (MissingModelError, ModelLoadError) as error:
        flag = "--vae" if vae is not None and isinstance(error, VAELoadError) else "--base-model"
        if flag == "--base-model" and options.base_model is None:
            raise
        raise SettingsError(flag, str(error)) from None
    return models


def _encoder_spec(architecture: Architecture, variant: str) -> ModelSpec:
    encoders = catalog_for(architecture.family).ip_encoders
    if variant not in encoders:
        raise SettingsError("--init-from", f"a {variant} adapter has no {architecture.title} image encoder")
    return encoders[variant]


def _init_kind(path: Path, base: Architecture, sources: ModelSources) -> CheckpointKind:
    """The family and variant of the ``--init-from`` file, refused in words if it is not for ``base``."""
    state = read_checkpoint(path)
    bigg = EncoderOutput(embeds=-1, hidden=-1)  # only SDXL files ask which encoder they read
    if base.family == "sdxl":
        bigg = EncoderOutput.of(CLIPVisionConfig.from_pretrained(sources.resolve(SDXL_IMAGE_ENCODER)))
    try:
        kind = checkpoint_kind(state, path, bigg)
    except CheckpointError as error:
        raise SettingsError("--init-from", str(error)) from None
    if kind.family != base.family:
        made_for = next(arch.title for arch in known_architectures() if arch.family == kind.family)
        raise SettingsError(
            "--init-from",
            f"{path} is an IP-Adapter for {made_for}, but the base model is {base.title}; give an "
            f"{base.title} adapter, or an {made_for} model with --base-model",
        )
    return kind
