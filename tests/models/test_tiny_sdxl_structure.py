"""The tiny SDXL ControlNets and T2I-Adapters respond to their maps, tested through diffusers' own SDXL
pipelines (so the proof does not depend on our engine); the inpainting twin and the fp16-fix VAE load
as the real ones do. Gaps are max |Δ| over pixels on the 0-255 scale, at scale 1 on a 64² txt2img."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import (
    AutoencoderKL,
    ControlNetModel,
    EulerAncestralDiscreteScheduler,
    StableDiffusionXLAdapterPipeline,
    StableDiffusionXLControlNetPipeline,
    StableDiffusionXLInpaintPipeline,
    StableDiffusionXLPipeline,
    T2IAdapter,
)
from PIL import Image, ImageDraw

from ipa_demo.models.catalog_sdxl import (
    SDXL_BASE,
    SDXL_CONTROLNETS,
    SDXL_INPAINTING_UNET,
    SDXL_T2I_ADAPTERS,
    SDXL_VAE_FP16_FIX,
)
from ipa_demo.models.sources import ModelSources

SIZE = 64
BLANK = Image.new("RGB", (SIZE, SIZE))


def edges() -> Image.Image:
    """White strokes on black, as a canny map is."""
    drawing = Image.new("RGB", (SIZE, SIZE))
    pen = ImageDraw.Draw(drawing)
    pen.rectangle((12, 12, 50, 44), outline=(255, 255, 255), width=2)
    pen.line((0, 60, 63, 20), fill=(255, 255, 255), width=2)
    return drawing


def gap(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.abs(first - second).max()) * 255


@pytest.fixture(scope="module")
def sources(tiny_models_dir: Path) -> ModelSources:
    return ModelSources(tiny_models_dir)


@pytest.fixture(scope="module")
def base(sources: ModelSources) -> StableDiffusionXLPipeline:
    pipe = StableDiffusionXLPipeline.from_pretrained(sources.local_path(SDXL_BASE))
    pipe.scheduler = EulerAncestralDiscreteScheduler.from_config(pipe.scheduler.config)
    return pipe


def _run(pipe, control: Image.Image) -> np.ndarray:
    return pipe(
        "a house by a lake",
        negative_prompt="blurry",
        image=control,
        height=SIZE,
        width=SIZE,
        num_inference_steps=4,
        guidance_scale=6.0,
        generator=torch.Generator().manual_seed(21),
        output_type="np",
    ).images


@pytest.mark.parametrize("kind", list(SDXL_CONTROLNETS))
def test_each_controlnet_follows_its_map(sources, base, kind: str) -> None:
    controlnet = ControlNetModel.from_pretrained(sources.local_path(SDXL_CONTROLNETS[kind]), variant=None)
    pipe = StableDiffusionXLControlNetPipeline(**base.components, controlnet=controlnet)
    assert gap(_run(pipe, edges()), _run(pipe, BLANK)) >= 30


@pytest.mark.parametrize("kind", list(SDXL_T2I_ADAPTERS))
def test_each_t2i_adapter_follows_its_map(sources, base, kind: str) -> None:
    adapter = T2IAdapter.from_pretrained(sources.local_path(SDXL_T2I_ADAPTERS[kind]))
    assert adapter.config.adapter_type == "full_adapter_xl"
    pipe = StableDiffusionXLAdapterPipeline(**base.components, adapter=adapter)
    control = edges().convert("L") if adapter.config.in_channels == 1 else edges()
    blank = BLANK.convert("L") if adapter.config.in_channels == 1 else BLANK
    assert gap(_run(pipe, control), _run(pipe, blank)) >= 20


def test_the_inpainting_twin_takes_nine_channels_and_runs(sources) -> None:
    folder = sources.local_path(SDXL_INPAINTING_UNET).parent
    pipe = StableDiffusionXLInpaintPipeline.from_pretrained(folder)
    assert pipe.unet.config.in_channels == 9
    mask = Image.new("L", (SIZE, SIZE))
    ImageDraw.Draw(mask).rectangle((16, 16, 48, 48), fill=255)
    image = pipe(
        "a cat", image=edges(), mask_image=mask, num_inference_steps=2, strength=1.0, output_type="np",
        generator=torch.Generator().manual_seed(0),
    ).images  # fmt: skip
    assert image.shape == (1, SIZE, SIZE, 3) and np.isfinite(image).all()


def test_the_fp16_fix_vae_fits_the_base_and_keeps_float16(sources, base) -> None:
    vae = AutoencoderKL.from_pretrained(sources.local_path(SDXL_VAE_FP16_FIX))
    assert vae.config.force_upcast is False and base.vae.config.force_upcast is True
    assert vae.config.scaling_factor == base.vae.config.scaling_factor
    assert {k: v.shape for k, v in vae.state_dict().items()} == {k: v.shape for k, v in base.vae.state_dict().items()}
