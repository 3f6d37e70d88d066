"""A row put in front of a UNet call: conditioning copied, no structure residuals, not returned."""

from __future__ import annotations

import torch

from ipa_demo.engine import Engine
from ipa_demo.ip_adapter.attention import KEY, IPAttention
from ipa_demo.unet_call import UNetCall

TIMESTEP = torch.tensor(700)


def structured_call(engine: Engine) -> UNetCall:
    generator = torch.Generator().manual_seed(4)
    latents, text = torch.randn(2, 4, 8, 8, generator=generator), torch.randn(2, 77, 32, generator=generator)
    control = torch.rand(2, 3, 64, 64, generator=generator)
    down, mid = engine.controlnet("canny")(latents, TIMESTEP, text, control, return_dict=False)
    tokens = torch.randn(2, 4, 32, generator=generator)
    ip = IPAttention(engine.ip_adapter("base"), tokens, (0.6,) * 16)
    residuals = {"down_block_additional_residuals": list(down), "mid_block_additional_residual": mid}
    return UNetCall(latents, text, {KEY: (ip,)}, residuals)


def test_the_front_row_gets_row_conditioning_and_zero_residuals(engine: Engine) -> None:
    call = structured_call(engine)
    front = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(5))
    longer = call.with_row_in_front(front, copy_conditioning_of=1)
    assert torch.equal(longer.sample, torch.cat([front, call.sample])) and longer.hidden_rows == 1
    assert torch.equal(longer.text[0], call.text[1]) and torch.equal(longer.text[1:], call.text)
    (ours,), (theirs,) = longer.attention[KEY], call.attention[KEY]
    assert torch.equal(ours.tokens[0], theirs.tokens[1]) and torch.equal(ours.tokens[1:], theirs.tokens)
    residual = longer.residuals["mid_block_additional_residual"]
    assert not residual[0].any() and torch.equal(residual[1:], call.residuals["mid_block_additional_residual"])
    assert all(not sample[0].any() for sample in longer.residuals["down_block_additional_residuals"])


def test_the_front_row_changes_nothing_for_the_others(engine: Engine) -> None:
    call = structured_call(engine)
    front = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(6))
    alone = call.run(engine.models.unet, TIMESTEP)
    with_front = call.with_row_in_front(front, copy_conditioning_of=0).run(engine.models.unet, TIMESTEP)
    assert with_front.shape == alone.shape
    torch.testing.assert_close(with_front, alone, atol=1e-6, rtol=1e-5)  # another batch size: rounding only


def test_units_add_up_their_residuals_and_keep_their_attention_items_in_order(engine: Engine) -> None:
    call = structured_call(engine)
    first, second = call.residuals["down_block_additional_residuals"], call.residuals["mid_block_additional_residual"]
    twice = call.add_residuals(dict(call.residuals))
    assert all(torch.equal(total, 2 * part) for total, part in zip(twice.residuals["down_block_additional_residuals"], first))
    assert torch.equal(twice.residuals["mid_block_additional_residual"], 2 * second)
    (unit,) = call.attention[KEY]
    other = IPAttention(engine.ip_adapter("plus"), unit.tokens, (0.3,) * 16)
    assert call.with_attention(KEY, other).attention[KEY] == (unit, other)
    assert call.attention[KEY] == (unit,), "a call is never changed in place"


def test_the_front_row_gets_the_added_conditioning_of_its_row() -> None:
    """SDXL's pooled text and time ids follow the row they are copied from, like the text tokens."""
    generator = torch.Generator().manual_seed(7)
    added = {"text_embeds": torch.randn(2, 6, generator=generator), "time_ids": torch.randn(2, 6, generator=generator)}
    call = UNetCall(torch.randn(2, 4, 8, 8, generator=generator), torch.randn(2, 77, 32), added_cond_kwargs=added)
    longer = call.with_row_in_front(torch.zeros(1, 4, 8, 8), copy_conditioning_of=1)
    assert longer.added_cond_kwargs is not None
    for name, value in added.items():
        assert torch.equal(longer.added_cond_kwargs[name], torch.cat([value[1:2], value]))
    plain = UNetCall(call.sample, call.text).with_row_in_front(torch.zeros(1, 4, 8, 8), copy_conditioning_of=0)
    assert plain.added_cond_kwargs is None  # SD 1.5: none to copy
