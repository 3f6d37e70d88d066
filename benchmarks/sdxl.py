"""The SDXL rows of ``core.py`` and ``gpu.py``: our engine on SDXL against diffusers'
``StableDiffusionXLPipeline`` on the same folder, settings, seeds, dtype and VAE.

SDXL base comes from the models folder (the tiny twin in the tiny set); without it the rows are left
out with a note. The size defaults to the model's own (1024 on SDXL base, 64 on the tiny twin).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from diffusers import AutoencoderKL, StableDiffusionXLPipeline
from PIL import Image

from ipa_demo.engine import Engine
from ipa_demo.errors import MissingModelError
from ipa_demo.models.catalog_sdxl import SDXL_BASE, SDXL_IP_ADAPTERS, SDXL_IP_ENCODERS, SDXL_VAE_FP16_FIX
from ipa_demo.models.loading import weights_variant
from ipa_demo.models.sources import ModelSources
from ipa_demo.schedulers import make_scheduler
from ipa_demo.settings import GenerationSettings, IPAdapterSettings

Run = Callable[[], object]
IP_VARIANT = "base"  # ip-adapter_sdxl with its ViT-bigG encoder
IP_SCALE = 0.7


@dataclass(frozen=True)
class SDXLRows:
    modes: dict[str, tuple[Run, Run]]  # mode -> (ours, diffusers')
    size: int
    engine: Engine


def sdxl_rows(models: Path, device: torch.device, dtype: torch.dtype, size: int | None, steps: int,
              reference: Image.Image) -> SDXLRows | str:  # fmt: skip
    """The rows, or why there are none."""
    sources = ModelSources(models)
    folder = sources.local_path(SDXL_BASE)
    if not folder.is_dir():
        return f"SDXL rows left out: no {SDXL_BASE.repo_id} under {models}"
    try:
        engine = Engine(sources, device, dtype, base_model=SDXL_BASE.repo_id)
    except MissingModelError as error:
        return f"SDXL rows left out: {error}"
    side = size or engine.models.architecture.default_size
    plain = _diffusers(folder, device, dtype, engine)
    with_ip = _diffusers(folder, device, dtype, engine)
    spec, encoder = SDXL_IP_ADAPTERS[IP_VARIANT], SDXL_IP_ENCODERS[IP_VARIANT]
    subfolder, weight_name = spec.path_in_repo.rsplit("/", 1)
    with_ip.load_ip_adapter(str(models / spec.repo_name), subfolder=subfolder, weight_name=weight_name,
                            image_encoder_folder=encoder.path_in_repo.removeprefix(f"{subfolder}/"))  # fmt: skip
    with_ip.set_ip_adapter_scale(IP_SCALE)
    with_ip.to(device)
    settings = GenerationSettings(prompt="a photo of a cat", seed=0, width=side, height=side, steps=steps,
                                  ip=IPAdapterSettings(scale=0.0))  # fmt: skip
    ip = replace(settings, ip=IPAdapterSettings(scale=IP_SCALE, variant=IP_VARIANT))
    modes: dict[str, tuple[Run, Run]] = {
        "SDXL txt2img": (lambda: engine.generate(settings), lambda: _run(plain, settings)),
        "SDXL IP-Adapter": (
            lambda: engine.generate(ip, [reference]),
            lambda: _run(with_ip, ip, ip_adapter_image=reference),
        ),
    }
    return SDXLRows(modes, side, engine)


def _diffusers(folder: Path, device: torch.device, dtype: torch.dtype, engine: Engine) -> StableDiffusionXLPipeline:
    variant = weights_variant(folder / "unet", "diffusion_pytorch_model.safetensors")
    pipe = StableDiffusionXLPipeline.from_pretrained(folder, torch_dtype=dtype, variant=variant)
    if engine.models.vae_name == SDXL_VAE_FP16_FIX.repo_name:  # the VAE ours decodes with (fp16: the fix)
        pipe.vae = AutoencoderKL.from_pretrained(engine.sources.resolve(SDXL_VAE_FP16_FIX), torch_dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def _run(pipe: StableDiffusionXLPipeline, settings: GenerationSettings, **extra: object) -> object:
    pipe.scheduler = make_scheduler(settings.scheduler, pipe.scheduler.config)
    return pipe(
        settings.prompt,
        negative_prompt=settings.negative_prompt or None,  # ours: an empty negative is None (zeros on SDXL)
        num_inference_steps=settings.steps,
        guidance_scale=settings.guidance,
        height=settings.height,
        width=settings.width,
        generator=[torch.Generator("cpu").manual_seed(seed) for seed in settings.image_seeds],
        output_type="np",
        **extra,
    ).images
