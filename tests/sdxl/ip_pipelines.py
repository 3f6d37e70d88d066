"""diffusers' SDXL pipeline with one of h94's SDXL IP-Adapters loaded its own way, for parity tests."""

from __future__ import annotations

from diffusers import StableDiffusionXLPipeline

from ipa_demo.models.catalog_sdxl import SDXL_BASE, SDXL_IP_ADAPTERS, SDXL_IP_ENCODERS
from ipa_demo.models.sources import ModelSources


def diffusers_with_ip_adapter(sources: ModelSources, variant: str) -> StableDiffusionXLPipeline:
    pipe = StableDiffusionXLPipeline.from_pretrained(sources.local_path(SDXL_BASE))
    spec, encoder = SDXL_IP_ADAPTERS[variant], SDXL_IP_ENCODERS[variant]
    subfolder, weight_name = spec.path_in_repo.rsplit("/", 1)
    # diffusers reads an encoder folder without "/" under the subfolder, a path with one from the repo root
    pipe.load_ip_adapter(
        str(sources.models_dir / spec.repo_name),
        subfolder=subfolder,
        weight_name=weight_name,
        image_encoder_folder=encoder.path_in_repo.removeprefix(f"{subfolder}/"),
    )
    return pipe
