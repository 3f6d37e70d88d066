"""Attention over two key sets, computed one set at a time.

softmax over [A ; B] is the two halves' softmaxes, each weighted by its share of the total mass:
with lse_A and lse_B the log-sum-exps of the scores, the result is σ(lse_A − lse_B)·out_A +
σ(lse_B − lse_A)·out_B. The fast reference read uses this because it needs out_A (own tokens only)
for the unconditional rows anyway, and because B (the reference) is then projected once for all rows.

``torch.nn.functional.scaled_dot_product_attention`` does not return the log-sum-exp, so on the CPU
the fused kernel is called through the ATen op it dispatches to; ``tests/reference_only/test_split_attention.py``
holds it equal to it and to the textbook formula. Other devices have no such kernel here (the CUDA
kernels' shape rules could not be tested without a GPU): callers check ``has_fused_kernel`` first.
"""

from __future__ import annotations

import torch
from torch import Tensor


def has_fused_kernel(device: torch.device) -> bool:
    return device.type == "cpu" and hasattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu")


def attention_and_logsumexp(query: Tensor, key: Tensor, value: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    """(batch, heads, tokens, dim) in, on a device with ``has_fused_kernel``; the attention output
    and the log-sum-exp per query row out."""
    return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(query, key, value, scale=scale)


def own_share(own_logsumexp: Tensor, other_logsumexp: Tensor, dtype: torch.dtype) -> Tensor:
    """The weight of the first key set in attention over both, per query row, to multiply outputs."""
    return torch.sigmoid(own_logsumexp - other_logsumexp).unsqueeze(-1).to(dtype)
