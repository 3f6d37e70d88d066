"""The app's one engine and loop run SDXL: txt2img, img2img and 9-channel inpainting equal
``StableDiffusionXL{,Img2Img,Inpaint}Pipeline`` on the tiny SDXL twin (max |d| <= 1e-4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import (
    AutoencoderKL,
    DiffusionPipeline,
    StableDiffusionXLImg2ImgPipeline,
    StableDiffusionXLInpaintPipeline,
    StableDiffusionXLPipeline,
)
from PIL import Image, ImageDraw

from ipa_demo.engine import Engine
from ipa_demo.loop import decode, needs_upcast
from ipa_demo.errors import CheckpointError
from ipa_demo.models.catalog_sdxl import SDXL_BASE, SDXL_INPAINTING_UNET, SDXL_IP_ADAPTERS, SDXL_VAE_FP16_FIX
from ipa_demo.sdxl.text import SizeConditioning
from ipa_demo.models.sources import ModelSources
from ipa_demo.settings import GenerationSettings, IPAdapterSettings

from ..helpers import noise_image

PROMPT = "a photo of a cat"


@pytest.fixture(scope="module")
def engine(tiny_models_dir: Path) -> Engine:
    return Engine(ModelSources(tiny_models_dir), base_model=SDXL_BASE.repo_id)


@pytest.fixture(scope="module")
def pipe(tiny_models_dir: Path) -> StableDiffusionXLPipeline:
    return _frozen(StableDiffusionXLPipeline.from_pretrained(ModelSources(tiny_models_dir).local_path(SDXL_BASE)))


def _frozen(pipe: DiffusionPipeline) -> DiffusionPipeline:
    """The pipeline's modules frozen as the engine loads its own: on CPU a frozen UNet takes another attention
    kernel (2e-6 apart on one call, measured), which the tiny twin's responsive UNet grows to 4e-4 in three steps."""
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            component.requires_grad_(False)
    return pipe


def _settings(*args: object, **options: object) -> GenerationSettings:
    return GenerationSettings(*args, ip=IPAdapterSettings(scale=0.0), **options)  # type: ignore[arg-type]


def _generators(settings: GenerationSettings) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(seed) for seed in settings.image_seeds]


@pytest.mark.parametrize(("negative", "guidance", "images"), [("", 5.0, 1), ("a dog", 7.0, 2), ("", 1.0, 1)])
def test_txt2img_equals_diffusers(engine, pipe, negative: str, guidance: float, images: int) -> None:
    settings = _settings(PROMPT, negative, seed=3, width=64, height=64, steps=3, guidance=guidance,
                                  num_images=images, scheduler="Euler")  # fmt: skip
    ours = engine.generate(settings).pixels
    theirs = pipe(PROMPT, negative_prompt=negative or None, num_inference_steps=3, guidance_scale=guidance, height=64,
                  width=64, generator=_generators(settings), num_images_per_prompt=images, output_type="np").images  # fmt: skip
    assert ours.shape == (images, 64, 64, 3)
    assert np.abs(ours - theirs).max() <= 1e-4
    assert engine.models.architecture.family == "sdxl"


def test_img2img_equals_diffusers(engine, pipe) -> None:
    init = noise_image(80, 64, seed=8)
    settings = _settings(PROMPT, "a dog", seed=2, width=80, height=64, steps=4, guidance=6.0, num_images=2,
                                  strength=0.75, scheduler="Euler")  # fmt: skip
    ours = engine.generate(settings, init_image=init).pixels
    theirs = StableDiffusionXLImg2ImgPipeline(**pipe.components)(
        PROMPT, negative_prompt="a dog", image=init, strength=0.75, num_inference_steps=4, guidance_scale=6.0,
        generator=_generators(settings), num_images_per_prompt=2, output_type="np",
    ).images  # fmt: skip
    assert np.abs(ours - theirs).max() <= 1e-4
    plain = engine.generate(settings).pixels
    assert np.abs(ours - plain).max() * 255 >= 20  # the init image shows


def test_nine_channel_inpainting_equals_diffusers(tiny_models_dir: Path) -> None:
    sources = ModelSources(tiny_models_dir)
    engine = Engine(sources, base_model=SDXL_INPAINTING_UNET.repo_id)
    image, mask = noise_image(64, 64, seed=9), Image.new("L", (64, 64))
    ImageDraw.Draw(mask).rectangle((8, 20, 40, 60), fill=255)
    settings = _settings("a cat", "a dog", seed=5, width=64, height=64, steps=3, guidance=6.0, num_images=2,
                                  strength=1.0, scheduler="Euler")  # fmt: skip
    ours = engine.generate(settings, init_image=image, mask_image=mask).pixels
    folder = sources.local_path(SDXL_INPAINTING_UNET).parent
    theirs = _frozen(StableDiffusionXLInpaintPipeline.from_pretrained(folder))(
        "a cat", negative_prompt="a dog", image=image, mask_image=mask, strength=1.0, num_inference_steps=3,
        guidance_scale=6.0, generator=_generators(settings), num_images_per_prompt=2, output_type="np",
    ).images  # fmt: skip
    assert np.abs(ours - theirs).max() <= 1e-4
    other = engine.generate(settings, init_image=noise_image(64, 64, seed=10), mask_image=mask).pixels
    assert np.abs(ours - other).max() * 255 >= 20  # the image around the mask reaches the UNet


def test_the_unet_reads_the_pooled_text_and_the_time_ids(engine) -> None:
    """The added conditioning is not decoration: the UNet's output moves with each part of it."""
    models = engine.models
    assert models.two_encoders is not None
    text = models.two_encoders.encode(PROMPT, "", guided=False)
    sample = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))

    def predict(size: SizeConditioning, pooled_scale: float = 1.0) -> torch.Tensor:
        added = text.added_cond_kwargs(size)
        added["text_embeds"] = added["text_embeds"] * pooled_scale
        with torch.no_grad():
            return models.unet(sample, 500, encoder_hidden_states=text.embeddings, added_cond_kwargs=added)[0]

    plain = predict(SizeConditioning((64, 64)))
    assert (plain - predict(SizeConditioning((64, 64), (32, 0)))).abs().max() > 1e-4
    assert (plain - predict(SizeConditioning((64, 64)), pooled_scale=0.0)).abs().max() > 1e-4


def test_a_float16_vae_that_overflows_decodes_in_float32_and_the_fix_does_not(engine, tiny_models_dir) -> None:
    folder = ModelSources(tiny_models_dir).local_path(SDXL_BASE)
    latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    stock = AutoencoderKL.from_pretrained(folder / "vae", torch_dtype=torch.float16)
    fixed = AutoencoderKL.from_pretrained(tiny_models_dir / SDXL_VAE_FP16_FIX.repo_name, torch_dtype=torch.float16)
    assert needs_upcast(stock) and not needs_upcast(fixed)
    assert not needs_upcast(AutoencoderKL.from_pretrained(folder / "vae"))  # float32 needs no copy
    reference = AutoencoderKL.from_pretrained(folder / "vae", torch_dtype=torch.float16).to(torch.float32)
    ours = decode(engine.models.with_vae(stock), latents)
    assert np.abs(ours - decode(engine.models.with_vae(reference), latents)).max() == 0.0  # float32 arithmetic
    assert stock.dtype == torch.float16  # the shared model is left as it was


def test_an_ip_checkpoint_is_told_by_family_and_encoder_and_refused_on_the_other_family(tiny_models_dir) -> None:
    sources = ModelSources(tiny_models_dir)
    vit_h = sources.local_path(SDXL_IP_ADAPTERS["vit-h"])
    engine = Engine(sources, base_model=SDXL_BASE.repo_id, ip_checkpoint=str(vit_h))
    assert engine.ip_checkpoint is not None
    assert (engine.ip_checkpoint.family, engine.ip_checkpoint.variant) == ("sdxl", "vit-h")  # not base: ViT-H's width
    assert "sdxl:ip:vit-h" in engine.loaded
    with pytest.raises(CheckpointError, match="--ip-checkpoint .* is an IP-Adapter for SDXL, but the base model is SD 1.5"):
        Engine(sources, ip_checkpoint=str(vit_h))
