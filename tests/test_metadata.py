"""The PNG ``parameters`` text: A1111's format, and read back into the same settings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from ipa_demo.metadata import read_png_parameters, save_png
from ipa_demo.settings import GenerationSettings, IPAdapterSettings
from ipa_demo.settings.parameters import format_parameters, parse_parameters, settings_from_parameters

SETTINGS = GenerationSettings(
    prompt="a cat, oil painting, \"impasto\"",
    negative_prompt="blurry, low quality",
    seed=123,
    width=640,
    height=512,
    steps=25,
    guidance=6.5,
    scheduler="Euler a",
    strength=0.55,
    ip=IPAdapterSettings(
        scale=0.65,
        variant="plus",
        mask="0000110111000000",
        stage_weights=(1, 1, 0.5, 1, 0.75, 1, 1),
        start=0.1,
        end=0.8,
        fit="pad",
        layer_weights=(0.0, 0.3, 1.2, 2.5, 0.7, 0.0, 1.0, 3.0, 0.2, 0.9, 1.5, 0.4, 0.0, 2.0, 1.1, 0.6),
        reference_weights=(0.5, 1.25),
        combine="concat",
    ),
    ip2=IPAdapterSettings(scale=0.3, variant="full-face", mask="1100000000000011", start=0.25, end=0.75),
)


def test_text_follows_a1111_layout() -> None:
    text = format_parameters(SETTINGS, 123, ip_used=True, img2img=True)
    prompt_line, negative_line, details = text.split("\n")
    assert prompt_line == SETTINGS.prompt
    assert negative_line == "Negative prompt: blurry, low quality"
    assert details.startswith("Steps: 25, Sampler: Euler a, CFG scale: 6.5, Seed: 123, Size: 640x512, ")
    assert "Denoising strength: 0.55" in details
    assert "IP-Adapter: ip-adapter-plus_sd15, IP scale: 0.65, IP layers: 0000110111000000" in details
    assert "IP window: 0.1-0.8" in details


def test_round_trip_restores_every_setting() -> None:
    text = format_parameters(SETTINGS, SETTINGS.seed, ip_used=True, ip2_used=True, img2img=True)
    assert settings_from_parameters(text) == SETTINGS


def test_without_adapter_the_restored_scale_is_zero() -> None:
    text = format_parameters(SETTINGS, SETTINGS.seed, ip_used=False, img2img=False)
    assert "IP" not in parse_parameters(text)[2]
    assert settings_from_parameters(text).ip.scale == 0.0


def test_multiline_prompts_survive() -> None:
    settings = GenerationSettings(prompt="line one\nline two", negative_prompt="bad\nworse")
    prompt, negative, _ = parse_parameters(format_parameters(settings, 0, ip_used=False, img2img=False))
    assert (prompt, negative) == ("line one\nline two", "bad\nworse")


def test_png_carries_the_text(tmp_path: Path) -> None:
    path = save_png(Image.new("RGB", (8, 8)), tmp_path / "x.png", "hello\nNegative prompt: \nSteps: 1")
    assert read_png_parameters(path) == "hello\nNegative prompt: \nSteps: 1"


def test_round_trip_restores_structure_settings() -> None:
    from dataclasses import replace

    from ipa_demo.settings import ControlNetSettings, ReferenceOnlySettings, T2IAdapterSettings

    settings = replace(
        SETTINGS,
        controlnet=ControlNetSettings(kind="canny", scale=0.8, start=0.1, end=0.9, guess_mode=True),
        t2i=T2IAdapterSettings(kind="depth", scale=0.6, factor=0.5),
        canny_low=40,
        canny_high=160,
        reference_only=ReferenceOnlySettings(mode="attn+adain", fidelity=0.3, weight=0.8, start=0.1, end=0.7, fast=True),
    )
    text = format_parameters(settings, settings.seed, ip_used=True, ip2_used=True, img2img=True)
    assert settings_from_parameters(text) == settings
    as_map = replace(settings, control_is_map=True, canny_low=100, canny_high=200)
    again = format_parameters(as_map, as_map.seed, ip_used=True, ip2_used=True, img2img=True)
    assert settings_from_parameters(again) == as_map


def test_unknown_adapter_in_a_png_is_a_settings_error() -> None:
    import pytest

    from ipa_demo.settings import SettingsError

    text = format_parameters(SETTINGS, 1, ip_used=True, img2img=False).replace("ip-adapter-plus_sd15", "mystery")
    with pytest.raises(SettingsError, match="ip_variant"):
        settings_from_parameters(text)


def test_any_prompt_text_survives_the_round_trip() -> None:
    """Lines that look like the layout's own ("Negative prompt:", "Steps: 3, ..."), quotes, escapes."""
    pieces = ["a cat", "\n", "Negative prompt: ", "Steps: 3, Seed: 4", ", ", '"', "\\", "\\n", ": ", "é🚲", " ", ""]
    rng = np.random.default_rng(0)
    for _ in range(300):
        prompt, negative = ("".join(rng.choice(pieces, size=rng.integers(0, 7))) for _ in range(2))
        text = format_parameters(replace(SETTINGS, prompt=prompt, negative_prompt=negative), 1, ip_used=True, img2img=False)
        restored = settings_from_parameters(text)
        assert (restored.prompt, restored.negative_prompt) == (prompt, negative), text


def test_plain_prompts_keep_the_a1111_layout_alone() -> None:
    text = format_parameters(SETTINGS, 1, ip_used=True, img2img=False)
    assert "Exact prompt" not in text and text.startswith(f"{SETTINGS.prompt}\nNegative prompt: {SETTINGS.negative_prompt}\n")
    tricky = replace(SETTINGS, prompt="a cat\nNegative prompt: a dog")
    assert 'Exact prompt: "a cat\\nNegative prompt: a dog"' in format_parameters(tricky, 1, ip_used=True, img2img=False)
