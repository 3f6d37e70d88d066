"""SDXL through the engine with IP-Adapter, alone and beside ControlNet or T2I-Adapter, equals diffusers' SDXL
pipelines with ``load_ip_adapter`` (max |d| <= 1e-4); the style preset equals InstantStyle's scale dict."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import (
    ControlNetModel,
    DiffusionPipeline,
    StableDiffusionXLAdapterPipeline,
    StableDiffusionXLControlNetPipeline,
    T2IAdapter,
)
from PIL import Image, ImageDraw

from ipa_demo.architecture import SDXL
from ipa_demo.architecture.layers import mask_presets
from ipa_demo.cli import build_parser
from ipa_demo.engine import Engine
from ipa_demo.models.catalog_sdxl import SDXL_BASE, SDXL_CONTROLNETS, SDXL_T2I_ADAPTERS
from ipa_demo.models.sources import ModelSources
from ipa_demo.settings import (
    ControlNetSettings,
    GenerationSettings,
    IPAdapterSettings,
    SettingsError,
    T2IAdapterSettings,
)
from ipa_demo.settings.arguments import settings_from_args
from ipa_demo.settings.parameters import parse_parameters, settings_from_parameters

from ..helpers import noise_image
from .ip_pipelines import diffusers_with_ip_adapter

PROMPT = "a house by a lake"
STEPS = 3
GUIDANCE = 6.0
SEED = 11


def edges() -> Image.Image:
    drawing = Image.new("RGB", (64, 64))
    pen = ImageDraw.Draw(drawing)
    pen.rectangle((12, 12, 50, 44), outline=(255, 255, 255), width=2)
    pen.line((0, 60, 63, 20), fill=(255, 255, 255), width=2)
    return drawing


@pytest.fixture(scope="module")
def sources(tiny_models_dir: Path) -> ModelSources:
    return ModelSources(tiny_models_dir)


@pytest.fixture(scope="module")
def engine(sources: ModelSources) -> Engine:
    return Engine(sources, base_model=SDXL_BASE.repo_id)


@pytest.fixture(scope="module")
def reference() -> Image.Image:
    return noise_image(96, 72, seed=6)


def _frozen(pipe: DiffusionPipeline) -> DiffusionPipeline:
    """Frozen as the engine loads its modules (on CPU a frozen UNet takes another attention kernel: see
    test_engine_sdxl.py)."""
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            component.requires_grad_(False)
    return pipe


def _settings(ip: IPAdapterSettings, **options: object) -> GenerationSettings:
    return GenerationSettings(PROMPT, seed=SEED, width=64, height=64, steps=STEPS, guidance=GUIDANCE,
                              scheduler="Euler", ip=ip, **options)  # type: ignore[arg-type]  # fmt: skip


def _theirs(pipe: DiffusionPipeline, scale: float | dict, reference: Image.Image, **options: object) -> np.ndarray:
    pipe.set_ip_adapter_scale(scale)
    return _frozen(pipe)(
        PROMPT, ip_adapter_image=reference, num_inference_steps=STEPS, guidance_scale=GUIDANCE, height=64, width=64,
        generator=[torch.Generator().manual_seed(SEED)], output_type="np", **options,
    ).images  # fmt: skip


@pytest.mark.parametrize("variant", ["base", "plus"])
def test_an_ip_variant_equals_diffusers(sources, engine, reference, variant: str) -> None:
    """base reads the ViT-bigG encoder, plus the ViT-H one: each through its family's catalog entry."""
    ours = engine.generate(_settings(IPAdapterSettings(scale=0.7, variant=variant)), [reference]).pixels
    theirs = _theirs(diffusers_with_ip_adapter(sources, variant), 0.7, reference)
    assert np.abs(ours - theirs).max() <= 1e-4
    plain = engine.generate(_settings(IPAdapterSettings(scale=0.0))).pixels
    assert np.abs(ours - plain).max() * 255 >= 20  # the reference reaches the image


def test_the_style_preset_equals_instant_styles_scale_dict(sources, engine, reference) -> None:
    """SD 1.5's named mask "style" is SDXL's up_blocks.0.attentions.1 on an SDXL base model."""
    style = IPAdapterSettings(scale=1.0).with_preset("style")
    ours = engine.generate(_settings(style), [reference]).pixels
    theirs = _theirs(diffusers_with_ip_adapter(sources, "base"), {"up": {"block_0": [0.0, 1.0, 0.0]}}, reference)
    assert np.abs(ours - theirs).max() <= 1e-4
    everywhere = engine.generate(_settings(IPAdapterSettings(scale=1.0)), [reference]).pixels
    assert np.abs(ours - everywhere).max() * 255 >= 20  # the other ten modules were left out


def test_a_mask_for_another_model_is_refused_naming_the_flag(engine, reference) -> None:
    odd = IPAdapterSettings(mask="1" * 15 + "0")  # 16 bits, no named mask
    with pytest.raises(SettingsError, match=r"^ip_layers: SDXL takes 11 bits \(one per attention module\), got 16 "):
        engine.generate(_settings(odd), [reference])
    with pytest.raises(SettingsError, match="ip_variant.*'light' has no SDXL model"):
        engine.generate(_settings(IPAdapterSettings(variant="light")), [reference])


@pytest.mark.parametrize(("kind", "guess_mode", "scale"), [("canny", False, 1.0), ("depth", True, 0.8)])
def test_controlnet_with_ip_adapter_equals_diffusers(sources, engine, reference, kind, guess_mode, scale) -> None:
    settings = _settings(IPAdapterSettings(scale=0.6), controlnet=ControlNetSettings(kind, scale, guess_mode=guess_mode),
                         control_is_map=True)  # fmt: skip
    ours = engine.generate(settings, [reference], control_image=edges()).pixels
    controlnet = ControlNetModel.from_pretrained(sources.local_path(SDXL_CONTROLNETS[kind])).eval()
    pipe = StableDiffusionXLControlNetPipeline(**diffusers_with_ip_adapter(sources, "base").components, controlnet=controlnet)
    theirs = _theirs(pipe, 0.6, reference, image=edges(), controlnet_conditioning_scale=scale, guess_mode=guess_mode)
    assert np.abs(ours - theirs).max() <= 1e-4


@pytest.mark.parametrize(("kind", "scale"), [("canny", 1.0), ("openpose", 0.7)])
def test_t2i_adapter_with_ip_adapter_equals_diffusers(sources, engine, reference, kind, scale) -> None:
    settings = _settings(IPAdapterSettings(scale=0.6), t2i=T2IAdapterSettings(kind, scale), control_is_map=True)
    ours = engine.generate(settings, [reference], control_image=edges()).pixels
    adapter = T2IAdapter.from_pretrained(sources.local_path(SDXL_T2I_ADAPTERS[kind])).eval()
    pipe = StableDiffusionXLAdapterPipeline(**diffusers_with_ip_adapter(sources, "base").components, adapter=adapter)
    control = edges().convert("L") if adapter.config.in_channels == 1 else edges()
    theirs = _theirs(pipe, 0.6, reference, image=control, adapter_conditioning_scale=scale)
    assert np.abs(ours - theirs).max() <= 1e-4


# --- Layers on SDXL (issue 25): 11 module weights, 70 block weights, an 11-bit mask ---

MODULE_WEIGHTS = (0.9, 0.0, 1.4, 0.6, 0.3, 1.1, 0.0, 2.0, 0.5, 0.8, 1.2)  # down 2+2, mid, up 3+3
LAMBDA = 0.5


def test_eleven_weights_equal_diffusers_scale_dict(sources, engine, reference) -> None:
    """One number per attention module is diffusers' ``set_ip_adapter_scale`` dict, module by module."""
    a, b, c, d, e, f, g, h, i, j, k = (LAMBDA * weight for weight in MODULE_WEIGHTS)
    scales = {"down": {"block_1": [a, b], "block_2": [c, d]}, "mid": e, "up": {"block_0": [f, g, h], "block_1": [i, j, k]}}
    ours = engine.generate(_settings(IPAdapterSettings(scale=LAMBDA, layer_weights=MODULE_WEIGHTS)), [reference]).pixels
    theirs = _theirs(diffusers_with_ip_adapter(sources, "base"), scales, reference)
    assert np.abs(ours - theirs).max() <= 1e-4
    everywhere = engine.generate(_settings(IPAdapterSettings(scale=LAMBDA)), [reference]).pixels
    assert np.abs(ours - everywhere).max() * 255 >= 5  # the weights changed the image


def _block_weights() -> tuple[float, ...]:
    """70 numbers that differ inside each module (SDXL's modules hold 2 or 10 transformer blocks)."""
    return tuple(round(0.2 + 1.6 * ((7 * index) % 11) / 10, 2) for index in range(70))


def test_seventy_weights_equal_each_diffusers_processors_own_scale(sources, engine, reference) -> None:
    """One number per transformer block: each diffusers IP processor (one block's attn2) gets its own scale."""
    weights = _block_weights()
    ours = engine.generate(_settings(IPAdapterSettings(scale=LAMBDA, layer_weights=weights)), [reference]).pixels
    pipe = diffusers_with_ip_adapter(sources, "base")
    processors = pipe.unet.attn_processors
    for block, weight in zip(SDXL.blocks, weights, strict=True):
        processors[block.processor_name].scale = [LAMBDA * weight]
    theirs = _frozen(pipe)(
        PROMPT, ip_adapter_image=reference, num_inference_steps=STEPS, guidance_scale=GUIDANCE, height=64, width=64,
        generator=[torch.Generator().manual_seed(SEED)], output_type="np",
    ).images  # fmt: skip
    assert np.abs(ours - theirs).max() <= 1e-4
    # The test tells the forms apart: the module's first block's number for the whole module is another image.
    per_module = tuple(weights[module.blocks[0]] for module in SDXL.modules)
    modules = engine.generate(_settings(IPAdapterSettings(scale=LAMBDA, layer_weights=per_module)), [reference]).pixels
    assert np.abs(ours - modules).max() * 255 >= 1


def test_an_eleven_bit_mask_is_the_eleven_numbers_of_0_and_1(engine, reference) -> None:
    mask = "01100100110"
    bits = tuple(float(bit) for bit in mask)
    masked = engine.generate(_settings(IPAdapterSettings(scale=0.8, mask=mask)), [reference]).pixels
    weighted = engine.generate(_settings(IPAdapterSettings(scale=0.8, layer_weights=bits)), [reference]).pixels
    assert np.abs(masked - weighted).max() == 0.0
    everywhere = engine.generate(_settings(IPAdapterSettings(scale=0.8)), [reference]).pixels
    assert np.abs(masked - everywhere).max() * 255 >= 5


def test_sdxl_refuses_sd15_lengths_with_its_own_counts(engine, reference) -> None:
    with pytest.raises(SettingsError, match=r"^ip_weights: SDXL takes 11 numbers \(one per attention module\) or 70 "
                                            r"\(one per transformer block\), got 16 \(SD 1.5's; only its named curves "
                                            r"carry over\)$"):  # fmt: skip
        engine.generate(_settings(IPAdapterSettings(layer_weights=(1.0,) * 16)), [reference])


def test_the_png_writes_sdxls_own_lengths_and_reads_them_back(engine, reference) -> None:
    for ip in (IPAdapterSettings(scale=0.6).with_preset("style"), IPAdapterSettings(scale=0.6, layer_weights=_block_weights())):
        result = engine.generate(_settings(ip), [reference])
        pairs = parse_parameters(result.parameters[0]).pairs
        assert pairs["IP layers"] == mask_presets(SDXL)[ip.layer_weights and "all" or "style"]
        back = settings_from_parameters(result.parameters[0]).ip
        assert back.layer_weights == ip.layer_weights and len(back.mask) == 11
        again = engine.generate(replace(_settings(ip), ip=back), [reference])
        assert np.abs(again.pixels - result.pixels).max() == 0.0


# --- Weight curves on SDXL (issue 25): one weight per attention module, x = its place in execution order ---


def _cli_unit(*flags: str) -> IPAdapterSettings:
    flags = ("--ip-variant", "base", "--ip-scale", "0.8", *flags)
    args = build_parser().parse_args(["generate", "--prompt", PROMPT, *flags])
    return settings_from_args(args).ip


@pytest.mark.parametrize("curve", ["strong middle", "ease out"])
def test_a_curve_equals_its_eleven_module_weights_given_explicitly(engine, reference, curve: str) -> None:
    formulas = {"strong middle": lambda x: 1 - (2 * x - 1) ** 2, "ease out": lambda x: (1 - x) ** 2}
    per_module = [round(formulas[curve](index / 10), 2) for index in range(11)]  # README: x = module / 10
    explicit = _cli_unit("--ip-weights", ",".join(str(weight) for weight in per_module))
    assert len(explicit.layer_weights) == 11
    by_curve = engine.generate(_settings(_cli_unit("--ip-curve", curve)), [reference])
    by_weights = engine.generate(_settings(explicit), [reference])
    assert np.abs(by_curve.pixels - by_weights.pixels).max() <= 1e-4
    everywhere = engine.generate(_settings(IPAdapterSettings(scale=0.8)), [reference]).pixels
    assert np.abs(by_curve.pixels - everywhere).max() * 255 >= 5  # the curve changed the image
    # the PNG says what ran: SDXL's 11 numbers, and reads back to the same unit
    pairs = parse_parameters(by_curve.parameters[0]).pairs
    assert tuple(float(value) for value in pairs["IP weights"].split(",")) == tuple(per_module)
