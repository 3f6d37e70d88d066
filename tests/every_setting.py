"""One request with every setting away from its default and every part acting: the probe the round-trip
tests (values, PNG text, the page) share, so that a new setting is added in one place."""

from __future__ import annotations

from ipa_demo.settings import (
    ControlNetSettings,
    GenerationSettings,
    IPAdapterSettings,
    ReferenceOnlySettings,
    T2IAdapterSettings,
)

EVERY_SETTING_SET = GenerationSettings(
    prompt="a lighthouse, watercolor",
    negative_prompt="blurry",
    seed=4321,
    width=96,
    height=128,
    steps=7,
    guidance=4.5,
    scheduler="UniPC",
    num_images=3,
    strength=0.55,
    ip=IPAdapterSettings(
        scale=1.25,
        variant="plus",
        mask="1010101010101010",
        stage_weights=(0.5, 1.0, 1.5, 0.0, 2.0, 0.25, 1.0),
        start=0.1,
        end=0.9,
        fit="pad",
        layer_weights=(0.0, 0.3, 1.2, 2.5, 0.7, 0.0, 1.0, 3.0, 0.2, 0.9, 1.5, 0.4, 0.0, 2.0, 1.1, 0.123456789),
        reference_weights=(1.0, 0.0, 2.5),
        combine="concat",
    ),
    controlnet=ControlNetSettings(kind="depth", scale=0.8, start=0.2, end=0.7, guess_mode=True),
    t2i=T2IAdapterSettings(kind="canny", scale=0.6, factor=0.5),
    control_is_map=False,
    canny_low=50,
    canny_high=150,
    reference_only=ReferenceOnlySettings(mode="attn+adain", fidelity=0.3, weight=0.9, start=0.0, end=0.8, fast=True),
    ip2=IPAdapterSettings(scale=0.45, variant="plus-face", mask="0000110000000000", start=0.2, end=0.6,
                          layer_weights=(0.5,) * 8 + (1.5,) * 8),  # fmt: skip
)
