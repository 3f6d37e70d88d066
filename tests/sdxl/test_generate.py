"""The standalone SDXL txt2img / img2img from the app's pieces equals ``StableDiffusionXL{,Img2Img}Pipeline``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import (
    AutoencoderKL,
    StableDiffusionXLImg2ImgPipeline,
    StableDiffusionXLInpaintPipeline,
    StableDiffusionXLPipeline,
)
from PIL import Image, ImageDraw

from ipa_demo.models.catalog_sdxl import SDXL_INPAINTING_UNET, SDXL_VAE_FP16_FIX
from ipa_demo.models.sources import ModelSources
from ipa_demo.models.tiny_sdxl import FOLDER
from ipa_demo.sdxl.generate import SDXLModels, decode, generate, needs_upcast, unet_added_conditioning
from ipa_demo.sdxl.inpaint import InpaintInput
from ipa_demo.sdxl.text import SizeConditioning

from ..helpers import noise_image


@pytest.fixture(scope="module")
def folder(tiny_models_dir: Path) -> Path:
    return tiny_models_dir / FOLDER


@pytest.fixture(scope="module")
def models(folder: Path) -> SDXLModels:
    return SDXLModels.from_folder(folder)


@pytest.fixture(scope="module")
def pipe(folder: Path) -> StableDiffusionXLPipeline:
    return StableDiffusionXLPipeline.from_pretrained(folder)


@pytest.mark.parametrize(
    ("negative", "guidance", "seeds"), [("", 5.0, (0,)), ("a dog", 7.0, (3, 4)), ("", 1.0, (5,))]
)
def test_equals_diffusers(models, pipe, negative: str, guidance: float, seeds: tuple[int, ...]) -> None:
    ours = generate(models, "a photo of a cat", negative, steps=3, guidance=guidance, seeds=seeds)
    theirs = pipe(
        "a photo of a cat",
        negative_prompt=negative or None,
        num_inference_steps=3,
        guidance_scale=guidance,
        height=64,
        width=64,
        generator=[torch.Generator().manual_seed(seed) for seed in seeds],
        num_images_per_prompt=len(seeds),
        output_type="np",
    ).images
    assert ours.shape == (len(seeds), 64, 64, 3)
    assert np.abs(ours - theirs).max() <= 1e-4


@pytest.mark.parametrize(("strength", "seeds", "size"), [(0.5, (1,), (64, 64)), (0.75, (2, 3), (48, 64))])
def test_img2img_equals_diffusers(models, pipe, strength: float, seeds: tuple[int, ...], size) -> None:
    init = noise_image(size[1], size[0], seed=8)  # (width, height)
    ours = generate(models, "a photo of a cat", "a dog", steps=4, guidance=6.0, seeds=seeds, init_image=init,
                    strength=strength)  # fmt: skip
    theirs = StableDiffusionXLImg2ImgPipeline(**pipe.components)(
        "a photo of a cat",
        negative_prompt="a dog",
        image=init,
        strength=strength,
        num_inference_steps=4,
        guidance_scale=6.0,
        generator=[torch.Generator().manual_seed(seed) for seed in seeds],
        num_images_per_prompt=len(seeds),
        output_type="np",
    ).images
    assert ours.shape == (len(seeds), *size, 3)
    assert np.abs(ours - theirs).max() <= 1e-4
    plain = generate(models, "a photo of a cat", "a dog", steps=4, guidance=6.0, seeds=seeds, size=size)
    assert np.abs(ours - plain).max() * 255 >= 20  # the init image shows


@pytest.mark.parametrize("seeds", [(4,), (5, 6)])
def test_nine_channel_inpainting_equals_diffusers(tiny_models_dir: Path, seeds: tuple[int, ...]) -> None:
    folder = ModelSources(tiny_models_dir).local_path(SDXL_INPAINTING_UNET).parent
    models = SDXLModels.from_folder(folder)
    image, mask = noise_image(64, 64, seed=9), Image.new("L", (64, 64))
    ImageDraw.Draw(mask).rectangle((8, 20, 40, 60), fill=255)
    ours = generate(models, "a cat", "a dog", steps=3, guidance=6.0, seeds=seeds, inpaint=InpaintInput(image, mask))
    theirs = StableDiffusionXLInpaintPipeline.from_pretrained(folder)(
        "a cat",
        negative_prompt="a dog",
        image=image,
        mask_image=mask,
        strength=1.0,
        num_inference_steps=3,
        guidance_scale=6.0,
        generator=[torch.Generator().manual_seed(seed) for seed in seeds],
        num_images_per_prompt=len(seeds),
        output_type="np",
    ).images
    assert np.abs(ours - theirs).max() <= 1e-4
    other = generate(models, "a cat", "a dog", steps=3, guidance=6.0, seeds=seeds,
                     inpaint=InpaintInput(noise_image(64, 64, seed=10), mask))  # fmt: skip
    assert np.abs(ours - other).max() * 255 >= 20  # the image around the mask reaches the UNet (50 measured)
    keep_all = generate(models, "a cat", "a dog", steps=3, guidance=6.0, seeds=seeds,
                        inpaint=InpaintInput(image, Image.new("L", (64, 64))))  # fmt: skip
    assert np.abs(ours - keep_all).max() * 255 >= 20  # and so does the mask (164 measured)
    with pytest.raises(ValueError, match="9-channel"):
        generate(models, "a cat", seeds=seeds)


def test_the_unet_reads_the_pooled_text_and_the_time_ids(models) -> None:
    """The added conditioning is not decoration: the UNet's output moves with each part of it."""
    text = models.text.encode("a photo of a cat", "", guided=False)
    sample = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))

    def predict(size: SizeConditioning, pooled_scale: float = 1.0) -> torch.Tensor:
        added = unet_added_conditioning(text, size)
        added["added_cond_kwargs"]["text_embeds"] = added["added_cond_kwargs"]["text_embeds"] * pooled_scale
        with torch.no_grad():
            return models.unet(sample, 500, encoder_hidden_states=text.embeddings, return_dict=False, **added)[0]

    plain = predict(SizeConditioning((64, 64)))
    assert (plain - predict(SizeConditioning((64, 64), (32, 0)))).abs().max() > 1e-4
    assert (plain - predict(SizeConditioning((64, 64)), pooled_scale=0.0)).abs().max() > 1e-4


def test_a_float16_vae_that_overflows_decodes_in_float32_and_the_fix_does_not(folder, tiny_models_dir) -> None:
    latents = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    stock = AutoencoderKL.from_pretrained(folder / "vae", torch_dtype=torch.float16)
    fixed = AutoencoderKL.from_pretrained(tiny_models_dir / SDXL_VAE_FP16_FIX.repo_name, torch_dtype=torch.float16)
    assert needs_upcast(stock) and not needs_upcast(fixed)
    assert not needs_upcast(AutoencoderKL.from_pretrained(folder / "vae"))  # float32 needs no copy
    reference = AutoencoderKL.from_pretrained(folder / "vae", torch_dtype=torch.float16).to(torch.float32)
    assert np.abs(decode(stock, latents) - decode(reference, latents)).max() == 0.0  # float32 arithmetic
    assert stock.dtype == torch.float16  # given back as it came
