"""Split attention: the fused kernels' log-sum-exp, and two halves joined equal to the whole."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ipa_demo.reference_only.split_attention import attention_and_logsumexp, has_fused_kernel, own_share

pytestmark = pytest.mark.skipif(not has_fused_kernel(torch.device("cpu")), reason="this torch lacks the CPU kernel")


def qkv(batch: int, keys: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    shapes = [(batch, 2, 48, 8), (batch, 2, keys, 8), (batch, 2, keys, 8)]
    return tuple(torch.randn(shape, generator=generator) for shape in shapes)  # type: ignore[return-value]


def test_kernel_matches_sdpa_and_the_textbook_formula() -> None:
    query, key, value = qkv(2, 40)
    output, logsumexp = attention_and_logsumexp(query, key, value, scale=0.3)
    scores = (query @ key.transpose(-1, -2)) * 0.3
    assert logsumexp.shape == (2, 2, 48)
    assert torch.equal(output, F.scaled_dot_product_attention(query, key, value, scale=0.3))
    torch.testing.assert_close(output, scores.softmax(dim=-1) @ value, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(logsumexp, scores.logsumexp(dim=-1), atol=1e-5, rtol=1e-5)


def test_two_halves_joined_equal_attention_over_both() -> None:
    query, own_key, own_value = qkv(2, 48, seed=1)
    _, other_key, other_value = qkv(1, 30, seed=2)
    other_key, other_value = other_key.expand(2, -1, -1, -1), other_value.expand(2, -1, -1, -1)  # one row for all
    own, own_lse = attention_and_logsumexp(query, own_key, own_value, scale=8**-0.5)
    other, other_lse = attention_and_logsumexp(query, other_key, other_value, scale=8**-0.5)
    joined = torch.lerp(other, own, own_share(own_lse, other_lse, own.dtype))
    whole = F.scaled_dot_product_attention(
        query, torch.cat([own_key, other_key], dim=2), torch.cat([own_value, other_value], dim=2)
    )
    torch.testing.assert_close(joined, whole, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(own, whole, atol=1e-3)  # both halves matter


def test_the_share_weighs_each_half_by_its_mass() -> None:
    share = own_share(torch.tensor([[[0.0, 5.0]]]), torch.tensor([[[0.0, -5.0]]]), torch.float32)
    assert share.shape == (1, 1, 2, 1)
    assert share[0, 0, 0, 0] == 0.5 and share[0, 0, 1, 0] > 0.99
