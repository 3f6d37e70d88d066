"""The PNG ``parameters`` text: A1111's format, and read back into the same settings."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from ipa_demo.metadata import read_png_parameters, save_png
from ipa_demo.settings import GenerationSettings
from ipa_demo.settings.parameters import format_parameters, parse_parameters, settings_from_parameters

from .every_setting import EVERY_SETTING_SET

SETTINGS = EVERY_SETTING_SET


def test_text_follows_a1111_layout() -> None:
    text = format_parameters(SETTINGS, 123, ip_used=True, img2img=True)
    prompt_line, negative_line, details = text.split("\n")
    assert prompt_line == SETTINGS.prompt
    assert negative_line == f"Negative prompt: {SETTINGS.negative_prompt}"
    size = f"{SETTINGS.width}x{SETTINGS.height}"
    assert details.startswith(f"Steps: {SETTINGS.steps}, Sampler: {SETTINGS.scheduler}, CFG scale: {SETTINGS.guidance:g}, Seed: 123, Size: {size}, ")
    assert f"Denoising strength: {SETTINGS.strength:g}" in details
    assert f"IP-Adapter: ip-adapter-{SETTINGS.ip.variant}_sd15, IP scale: {SETTINGS.ip.scale:g}, IP layers: {SETTINGS.ip.mask}" in details
    assert f"IP window: {SETTINGS.ip.start:g}-{SETTINGS.ip.end:g}" in details


def test_round_trip_restores_every_setting() -> None:
    text = format_parameters(SETTINGS, SETTINGS.seed, ip_used=True, ip2_used=True, img2img=True)
    assert settings_from_parameters(text) == replace(SETTINGS, num_images=1)  # a PNG holds one image of its batch


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


def test_round_trip_restores_a_ready_map() -> None:
    as_map = replace(SETTINGS, num_images=1, control_is_map=True, canny_low=100, canny_high=200)
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
