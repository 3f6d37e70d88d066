"""Attention over two key sets, computed one set at a time.

softmax over [A ; B] is the two halves' softmaxes, each weighted by its share of the total mass:
with lse_A and lse_B the log-sum-exps of the scores, the result is σ(lse_A − lse_B)·out_A +
σ(lse_B − lse_A)·out_B. The fast reference read uses this because it needs out_A (own tokens only)
for the unconditional rows anyway, and because B (the reference) is then projected once for all rows.

``torch.nn.functional.scaled_dot_product_attention`` does not return the log-sum-exp, so the fused
kernels are called through the ATen ops that it dispatches to (CPU flash, CUDA memory-efficient);
``tests/test_split_attention.py`` holds them equal to it and to the plain formula.
"""

from __future__ import annotations

import torch
from torch import Tensor


def attention_and_logsumexp(query: Tensor, key: Tensor, value: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    """(batch, heads, tokens, dim) in; the attention output and the log-sum-exp per query row out."""
    if query.device.type == "cpu":
        return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(query, key, value, scale=scale)
    if query.device.type == "cuda":
        output, logsumexp, *_ = torch.ops.aten._scaled_dot_product_efficient_attention(
            query, key, value, None, True, scale=scale
        )
        return output, logsumexp[..., : query.shape[-2]]  # some versions pad the rows to a multiple of 32
    return reference_attention_and_logsumexp(query, key, value, scale)


def reference_attention_and_logsumexp(query: Tensor, key: Tensor, value: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    """The textbook formula: what the fused kernels must agree with, and the fallback elsewhere."""
    scores = (query @ key.transpose(-1, -2)).float() * scale
    logsumexp = scores.logsumexp(dim=-1)
    return (torch.exp(scores - logsumexp.unsqueeze(-1)).to(value.dtype) @ value), logsumexp


def own_share(own_logsumexp: Tensor, other_logsumexp: Tensor, dtype: torch.dtype) -> Tensor:
    """The weight of the first key set in attention over both, per query row, to multiply outputs."""
    return torch.sigmoid(own_logsumexp - other_logsumexp).unsqueeze(-1).to(dtype)
