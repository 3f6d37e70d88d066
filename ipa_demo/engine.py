"""The engine: loads the models once, keeps them and the reference encodings, and serves requests.

Everything a request asks for arrives in its ``GenerationSettings``; the engine holds only models
and caches, so concurrent requests cannot leak settings into each other.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageOps

from .ip_adapter import IPAdapterWeights, install_processors, load_ip_adapter
from .metadata import format_parameters
from .models import StableDiffusionModels, load_stable_diffusion
from .pipeline import StepCallback, decode, denoise, encode_text, ip_conditioning
from .reference_encoder import ReferenceEncoder
from .settings import GenerationSettings, SettingsError
from .sources import IMAGE_ENCODER, IP_ADAPTERS, SD15, ModelSources


@dataclass(frozen=True)
class GenerationResult:
    images: list[Image.Image]
    pixels: np.ndarray  # float (n, h, w, 3) in [0, 1], before 8-bit rounding
    seeds: tuple[int, ...]
    parameters: list[str]  # A1111 text per image
    warnings: tuple[str, ...]


def check_inputs(
    settings: GenerationSettings, references: Sequence[Image.Image], init_image: Image.Image | None
) -> None:
    """What a request needs besides valid settings; cheap, so callers check before loading models."""
    if settings.ip.is_active and not references:
        raise SettingsError("reference_images", "IP-Adapter needs a reference image (or set ip_scale to 0)")
    if init_image is not None and int(settings.steps * settings.strength) < 1:
        raise SettingsError("strength", f"{settings.strength:g} × {settings.steps} steps leaves no step to run")


class Engine:
    def __init__(
        self,
        sources: ModelSources,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.sources = sources
        self.device = torch.device(device)
        self.dtype = dtype
        self.models: StableDiffusionModels = load_stable_diffusion(sources.resolve(SD15), self.device, dtype)
        install_processors(self.models.unet)
        self._load_lock = threading.Lock()
        self._reference_encoder: ReferenceEncoder | None = None
        self._ip_adapters: dict[str, IPAdapterWeights] = {}

    @property
    def reference_encoder(self) -> ReferenceEncoder:
        with self._load_lock:
            if self._reference_encoder is None:
                from transformers import CLIPVisionModelWithProjection

                encoder = CLIPVisionModelWithProjection.from_pretrained(
                    self.sources.resolve(IMAGE_ENCODER), dtype=self.dtype, use_safetensors=True
                )
                self._reference_encoder = ReferenceEncoder(encoder.to(self.device).eval())
            return self._reference_encoder

    def ip_adapter(self, variant: str) -> IPAdapterWeights:
        with self._load_lock:
            if variant not in self._ip_adapters:
                path = self.sources.resolve(IP_ADAPTERS[variant])
                self._ip_adapters[variant] = load_ip_adapter(path, self.models.unet)
            return self._ip_adapters[variant]

    def generate(
        self,
        settings: GenerationSettings,
        references: Sequence[Image.Image] = (),
        init_image: Image.Image | None = None,
        on_step: StepCallback | None = None,
    ) -> GenerationResult:
        check_inputs(settings, references, init_image)
        ip_used = settings.ip.is_active
        if init_image is not None and init_image.size != (settings.width, settings.height):
            # A1111's "crop and resize": keep the centre at the target aspect, then scale.
            init_image = ImageOps.fit(init_image.convert("RGB"), (settings.width, settings.height), Image.LANCZOS)

        text = encode_text(self.models, settings)
        ip = None
        if ip_used:
            weights = self.ip_adapter(settings.ip.variant)
            encoding = self.reference_encoder.encode(list(references), settings.ip.fit, weights.uses_hidden_states)
            ip = ip_conditioning(weights, encoding.positive, encoding.negative, settings)
        latents = denoise(self.models, settings, text, ip, init_image, on_step)
        pixels = decode(self.models, latents)
        images = self.models.image_processor.numpy_to_pil(pixels)
        parameters = [
            format_parameters(settings, seed, ip_used=ip_used, img2img=init_image is not None)
            for seed in settings.image_seeds
        ]
        return GenerationResult(images, pixels, settings.image_seeds, parameters, text.warnings)
