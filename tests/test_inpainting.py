"""Inpainting ≡ diffusers' StableDiffusionInpaintPipeline, with a 9-channel and a 4-channel UNet,
with and without IP-Adapter; what lies outside the mask is kept."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionInpaintPipeline
from PIL import Image, ImageDraw

from ipa_demo.cli import main
from ipa_demo.engine import Engine
from ipa_demo.inpainting import Inpainting
from ipa_demo.loop import Conditioning, denoise, encode_text
from ipa_demo.models.catalog import IP_ADAPTERS
from ipa_demo.models.sources import ModelSources
from ipa_demo.models.tiny_user import INPAINTING_FOLDER, INPAINTING_REPO
from ipa_demo.schedulers import make_scheduler
from ipa_demo.settings import (
    ControlNetSettings,
    GenerationSettings,
    IPAdapterSettings,
    SettingsError,
    T2IAdapterSettings,
)

from .helpers import noise_image

TOLERANCE = 1e-4
SETTINGS = GenerationSettings(
    prompt="a photo of a cat", negative_prompt="blurry", seed=11, width=72, height=64, steps=5, guidance=6.0,
    scheduler="Euler a", num_images=2, strength=0.8, ip=IPAdapterSettings(scale=0.0),
)  # fmt: skip


def mask_image(width: int, height: int) -> Image.Image:
    """White (repaint) on the right half, and a grey stroke that the binarisation must round."""
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    draw.rectangle((width // 2, 0, width, height), fill=255)
    draw.line((0, height // 2, width // 2, height // 2), fill=140, width=9)
    return mask


@pytest.fixture(scope="module")
def inpaint_engine(tiny_models_dir: Path) -> Engine:
    return Engine(ModelSources(tiny_models_dir), base_model=INPAINTING_REPO)


def diffusers_inpaint(
    folder: Path, models_dir: Path, settings: GenerationSettings, init: Image.Image, mask: Image.Image,
    reference: Image.Image | None = None,
) -> np.ndarray:  # fmt: skip
    pipe = StableDiffusionInpaintPipeline.from_pretrained(folder, safety_checker=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    kwargs: dict[str, object] = {}
    if reference is not None:
        weight = IP_ADAPTERS[settings.ip.variant].path_in_repo.removeprefix("models/")
        pipe.load_ip_adapter(
            str(models_dir / "IP-Adapter"), subfolder="models", weight_name=weight, image_encoder_folder="image_encoder"
        )
        pipe.set_ip_adapter_scale(settings.ip.scale)
        kwargs["ip_adapter_image"] = reference
    pipe.scheduler = make_scheduler(settings.scheduler, pipe.scheduler.config)
    return pipe(
        settings.prompt, image=init, mask_image=mask, strength=settings.strength, height=settings.height,
        width=settings.width, negative_prompt=settings.negative_prompt, num_inference_steps=settings.steps,
        guidance_scale=settings.guidance, num_images_per_prompt=settings.num_images,
        generator=[torch.Generator("cpu").manual_seed(seed) for seed in settings.image_seeds], output_type="np",
        **kwargs,
    ).images  # fmt: skip


CASES = [  # (UNet, scheduler, strength, IP variant or None)
    ("9", "Euler a", 0.8, None),
    ("9", "DPM++ 2M Karras", 1.0, None),
    ("9", "DDIM", 0.6, "base"),
    ("9", "Euler a", 1.0, "plus"),
    ("4", "Euler a", 0.8, None),
    ("4", "DDIM", 1.0, None),
    ("4", "DPM++ 2M Karras", 0.7, "base"),
]


@pytest.mark.parametrize(("channels", "scheduler", "strength", "variant"), CASES)
def test_inpainting_equals_diffusers(
    engine: Engine, inpaint_engine: Engine, tiny_models_dir: Path, reference: Image.Image,
    channels: str, scheduler: str, strength: float, variant: str | None,
) -> None:  # fmt: skip
    ours_engine, folder = (
        (inpaint_engine, tiny_models_dir / INPAINTING_FOLDER)
        if channels == "9"
        else (engine, tiny_models_dir / "stable-diffusion-v1-5")
    )
    assert ours_engine.models.unet.config.in_channels == int(channels)
    ip = IPAdapterSettings(scale=0.7, variant=variant) if variant else IPAdapterSettings(scale=0.0)
    settings = replace(SETTINGS, scheduler=scheduler, strength=strength, ip=ip)
    init, mask = noise_image(settings.width, settings.height, seed=4), mask_image(settings.width, settings.height)
    references = [reference] if variant else []
    ours = ours_engine.generate(settings, references, init_image=init, mask_image=mask).pixels
    theirs = diffusers_inpaint(folder, tiny_models_dir, settings, init, mask, reference if variant else None)
    assert np.abs(ours - theirs).max() <= TOLERANCE
    plain = ours_engine.generate(replace(settings, ip=IPAdapterSettings(scale=0.0)), init_image=init, mask_image=mask)
    if variant:
        assert np.abs(ours - plain.pixels).max() > 0.01, "the adapter must act"


def test_a_plain_unet_ends_on_the_init_latents_outside_the_mask(engine: Engine) -> None:
    settings = replace(SETTINGS, num_images=1)
    init, mask = noise_image(settings.width, settings.height, seed=4), mask_image(settings.width, settings.height)
    posterior = engine.posterior(init, settings)
    inpainting = Inpainting.prepare(engine.models, init, mask, posterior, settings)
    conditioning = Conditioning(encode_text(engine.models, settings), start=inpainting)
    latents = denoise(engine.models, settings, conditioning)
    # The init image's sample, drawn first from the first image's generator, as diffusers draws it.
    known = engine.models.vae.config.scaling_factor * posterior.sample(
        torch.Generator("cpu").manual_seed(settings.seed)
    )
    keep = inpainting.mask == 0
    assert 0 < keep.float().mean() < 1
    assert torch.equal((latents * keep)[0], (known * keep)[0])
    assert (latents - known)[(~keep).expand_as(latents)].abs().mean() > 0.1, "inside the mask: repainted"


def test_what_inpainting_needs_is_asked_for(engine: Engine, inpaint_engine: Engine) -> None:
    init, mask = noise_image(72, 64, seed=4), mask_image(72, 64)
    with pytest.raises(SettingsError, match="mask_image: a mask needs an init image"):
        engine.generate(SETTINGS, mask_image=mask)
    with pytest.raises(SettingsError, match="mask_image: this base model is an inpainting model"):
        inpaint_engine.generate(SETTINGS, init_image=init)
    with pytest.raises(SettingsError, match="mask_image: this base model is an inpainting model"):
        inpaint_engine.generate(SETTINGS)


def test_controlnet_and_t2i_steer_an_inpainting_unet(inpaint_engine: Engine) -> None:
    init, mask = noise_image(72, 64, seed=4), mask_image(72, 64)
    control = noise_image(72, 64, seed=9)
    plain = inpaint_engine.generate(SETTINGS, init_image=init, mask_image=mask).pixels
    for structure in ({"controlnet": ControlNetSettings(kind="canny")}, {"t2i": T2IAdapterSettings(kind="canny")}):
        steered = replace(SETTINGS, **structure)
        pixels = inpaint_engine.generate(steered, init_image=init, mask_image=mask, control_image=control).pixels
        assert np.abs(pixels - plain).max() > 0.01, structure


def test_the_cli_inpaints(tiny_models_dir: Path, inpaint_engine: Engine, tmp_path: Path, capsys) -> None:
    settings = replace(SETTINGS, num_images=1)
    init, mask = noise_image(72, 64, seed=4), mask_image(72, 64)
    init.save(tmp_path / "init.png")
    mask.save(tmp_path / "mask.png")
    code = main([
        "generate", "--models", str(tiny_models_dir), "--base-model", INPAINTING_REPO, "--init-image",
        str(tmp_path / "init.png"), "--mask-image", str(tmp_path / "mask.png"), "--prompt", settings.prompt,
        "--negative-prompt", settings.negative_prompt, "--seed", str(settings.seed), "--width", "72", "--height", "64",
        "--steps", "5", "--guidance", "6", "--scheduler", settings.scheduler, "--strength", "0.8", "--ip-scale", "0",
        "--out", str(tmp_path / "out"),
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    png = Image.open(capsys.readouterr().out.split()[0])
    expected = inpaint_engine.generate(settings, init_image=init, mask_image=mask).images[0]
    assert np.array_equal(np.asarray(png.convert("RGB")), np.asarray(expected))
    code = main(["generate", "--models", str(tiny_models_dir), "--mask-image", str(tmp_path / "mask.png"),
                 "--prompt", "x", "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2 and "--mask-image: a mask needs an init image" in capsys.readouterr().err
