"""Reference-only inside the UNet: fast single call vs two calls, split vs literal read, early stop."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import replace

import pytest
import torch

from ipa_demo.engine import Engine
from ipa_demo.ip_adapter.attention import KEY, IPAttention
from ipa_demo.reference_only.guidance import adain_points_for, attention_layers_for
from ipa_demo.reference_only.hooks import SelfAttnProcessor, _read_split
from ipa_demo.reference_only.state import BanksFilled, ReferencePass, activate
from ipa_demo.unet_call import UNetCall

TIMESTEP = torch.tensor(500)
UNCOND_ROWS = torch.tensor([True, False])
TOLERANCE = {"atol": 2e-5, "rtol": 1e-4}  # float rounding of another batch size and of split attention


def inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    latents = torch.randn(2, 4, 8, 8, generator=generator)  # [uncond, cond] of one image
    text = torch.randn(2, 77, 32, generator=generator)
    reference = torch.randn(1, 4, 8, 8, generator=generator)
    return latents, text, reference


def reference_pass(engine: Engine, mode: str, phase: str, fidelity: float = 0.5) -> ReferencePass:
    unet = engine.models.unet
    layers = attention_layers_for(unet, 1.0) if "attn" in mode else frozenset()
    points = adain_points_for(unet, 1.0) if "adain" in mode else frozenset()
    return ReferencePass(phase, layers, points, fidelity, UNCOND_ROWS)  # type: ignore[arg-type]


def image_prompt(engine: Engine) -> IPAttention:
    tokens = torch.randn(2, 4, 32, generator=torch.Generator().manual_seed(9))
    return IPAttention(engine.ip_adapter("base"), tokens, (0.7,) * 16)


def written_then_read(engine: Engine, state: ReferencePass, call: UNetCall, reference: torch.Tensor) -> torch.Tensor:
    """What the fast call stands for: the reference written alone with row 1's prompt, then read."""
    ip = {KEY: tuple(replace(unit, tokens=unit.tokens[1:]) for unit in call.attention[KEY])}
    with activate(state), suppress(BanksFilled):
        UNetCall(reference, call.text[1:], ip).run(engine.models.unet, TIMESTEP)
    with activate(state.reading()):
        return call.run(engine.models.unet, TIMESTEP)


@pytest.mark.parametrize("mode", ["attn", "adain", "attn+adain"])
@pytest.mark.parametrize("fidelity", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("fused", [True, False], ids=["split-read", "literal-read"])
def test_single_call_equals_writing_then_reading(
    engine: Engine, mode: str, fidelity: float, fused: bool, monkeypatch
) -> None:
    if not fused:  # as on a device without a fused log-sum-exp kernel
        monkeypatch.setattr("ipa_demo.reference_only.hooks.has_fused_kernel", lambda _device: False)
    latents, text, reference = inputs()
    call = UNetCall(latents, text, {KEY: (image_prompt(engine),)})
    with activate(reference_pass(engine, mode, "single", fidelity)):
        single = call.with_row_in_front(reference, copy_conditioning_of=1).run(engine.models.unet, TIMESTEP)
    expected = written_then_read(engine, reference_pass(engine, mode, "write", fidelity), call, reference)
    torch.testing.assert_close(single, expected, **TOLERANCE)
    assert (single - call.run(engine.models.unet, TIMESTEP)).abs().max() > 1e-2  # the reference acted


@pytest.mark.parametrize("fidelity", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("uncond_rows", [UNCOND_ROWS, None])
def test_split_read_equals_the_literal_one(engine: Engine, fidelity: float, uncond_rows: torch.Tensor | None) -> None:
    block = "down_blocks.0.attentions.0.transformer_blocks.0"
    attn = engine.models.unet.get_submodule(f"{block}.attn1")
    generator = torch.Generator().manual_seed(3)
    hidden = torch.randn(2, 64, attn.to_q.in_features, generator=generator)
    reference = torch.randn(1, 64, attn.to_q.in_features, generator=generator)
    state = ReferencePass("read", frozenset({block}), frozenset(), fidelity, uncond_rows)
    literal = SelfAttnProcessor(block)._read_literal(attn, hidden, reference, state)
    torch.testing.assert_close(_read_split(attn, hidden, reference, state), literal, atol=1e-6, rtol=1e-5)


def test_write_stops_after_the_last_selected_layer_with_the_same_banks(engine: Engine) -> None:
    unet = engine.models.unet
    latents, text, _ = inputs()
    calls: list[str] = []
    handle = unet.conv_out.register_forward_hook(lambda *_: calls.append("conv_out"))
    try:
        early = reference_pass(engine, "attn+adain", "write")
        never_full = reference_pass(engine, "attn+adain", "write")
        never_full.attention_layers = early.attention_layers | {"not a layer"}
        for state in (early, never_full):
            with activate(state), suppress(BanksFilled):
                UNetCall(latents, text).run(unet, TIMESTEP)
    finally:
        handle.remove()
    assert calls == ["conv_out"]  # only the run that never filled its banks got to the end
    assert early.attention_bank.keys() == early.attention_layers and len(early.adain_bank) == len(early.adain_points)
    assert all(
        torch.equal(early.attention_bank[name], never_full.attention_bank[name]) for name in early.attention_bank
    )
    assert all(
        torch.equal(early.adain_bank[point][index], never_full.adain_bank[point][index])
        for point in early.adain_bank
        for index in (0, 1)
    )


@pytest.mark.parametrize("mode", ["attn", "adain", "attn+adain"])
def test_the_single_call_would_not_equal_another_references_write(engine: Engine, mode: str) -> None:
    """The check above can fail: written from another reference, the read is far outside its tolerance."""
    latents, text, reference = inputs()
    other = inputs(seed=1)[2]
    call = UNetCall(latents, text, {KEY: (image_prompt(engine),)})
    with activate(reference_pass(engine, mode, "single")):
        single = call.with_row_in_front(reference, copy_conditioning_of=1).run(engine.models.unet, TIMESTEP)
    wrong = written_then_read(engine, reference_pass(engine, mode, "write"), call, other)
    assert (single - wrong).abs().max() > 1e-2
