"""Where reference-only acts inside the UNet: the self-attention processor and the AdaIN hooks.

Both do nothing unless a ``ReferencePass`` is active (see ``state``). In the exact read
they compute what diffusers' community ``stable_diffusion_reference`` and
``stable_diffusion_xl_reference`` pipelines compute, operation for operation, at the UNet's own
transformer blocks and down/mid/up blocks (SD 1.5's or SDXL's, found in the loaded UNet); the fast
single call reads row 0 instead of a bank, with split attention where a fused kernel returns the
log-sum-exp (the CPU; elsewhere the literal read).
"""

from __future__ import annotations

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

from .guidance import adain_points_for
from .split_attention import attention_and_logsumexp, has_fused_kernel, own_share
from .state import ReferencePass, active_pass

_EPS = 1e-6


class SelfAttnProcessor:
    """attn1: plain self-attention, or over [own tokens ; reference tokens] when reading."""

    def __init__(self, block: str) -> None:
        self.block = block  # the BasicTransformerBlock this attention belongs to
        self._plain = AttnProcessor2_0()

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        ip: object = None,  # for attn2; accepted so every processor takes the same kwargs
    ) -> torch.Tensor:
        state = active_pass()
        if state is None or self.block not in state.attention_layers:
            return self._plain(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        if state.phase == "write":
            state.store_attention(self.block, hidden_states)
            return self._plain(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        if state.phase == "read":
            return self._read_literal(attn, hidden_states, state.attention_bank[self.block], state)
        reference, own = hidden_states[:1], hidden_states[1:]
        splits = _is_plain_self_attention(attn, hidden_states) and has_fused_kernel(hidden_states.device)
        read = _read_split if splits else self._read_literal
        return torch.cat([self._plain(attn, reference), read(attn, own, reference, state)])

    def _read_literal(
        self, attn: Attention, hidden_states: torch.Tensor, reference: torch.Tensor, state: ReferencePass
    ) -> torch.Tensor:
        reference = reference.expand(hidden_states.shape[0], -1, -1)
        with_reference = self._plain(attn, hidden_states, torch.cat([hidden_states, reference], dim=1))
        uncond = None
        if state.uncond_rows is not None and state.fidelity > 0:
            own = hidden_states[state.uncond_rows]
            uncond = self._plain(attn, own, own)
        return state.blend(with_reference, uncond)


def _is_plain_self_attention(attn: Attention, hidden_states: torch.Tensor) -> bool:
    """A plain attn1 (SD 1.5's and SDXL's): token input, no norms, residual or rescale inside the module."""
    extras = (attn.spatial_norm, attn.group_norm, attn.norm_q, attn.norm_k)
    return (
        hidden_states.ndim == 3
        and all(extra is None for extra in extras)
        and not attn.residual_connection
        and attn.rescale_output_factor == 1.0
    )


def _read_split(
    attn: Attention, hidden_states: torch.Tensor, reference: torch.Tensor, state: ReferencePass
) -> torch.Tensor:
    """Attention over [own ; reference] as its two halves (``split_attention``), for the fast call.

    The reference (one row) is projected once for all rows, and the unconditional rows' own-only
    attention that style fidelity needs is the first half rather than a third attention. Blending
    before ``to_out`` equals blending after it: ``to_out`` is affine and the weights sum to 1.
    """
    batch = hidden_states.shape[0]

    def heads(tokens: torch.Tensor) -> torch.Tensor:
        return tokens.unflatten(-1, (attn.heads, -1)).transpose(1, 2).expand(batch, -1, -1, -1)

    query = heads(attn.to_q(hidden_states))
    own, own_lse = attention_and_logsumexp(
        query, heads(attn.to_k(hidden_states)), heads(attn.to_v(hidden_states)), attn.scale
    )
    other, other_lse = attention_and_logsumexp(
        query, heads(attn.to_k(reference)), heads(attn.to_v(reference)), attn.scale
    )
    with_reference = torch.lerp(other, own, own_share(own_lse, other_lse, own.dtype))
    blended = state.blend(with_reference, own[state.uncond_rows] if state.uncond_rows is not None else None)
    output = attn.to_out[0](blended.transpose(1, 2).flatten(2))
    return attn.to_out[1](output)  # dropout


def _statistics(hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    var, mean = torch.var_mean(hidden, dim=(2, 3), keepdim=True, correction=0)
    return mean, var


def _adain(hidden: torch.Tensor, reference: tuple[torch.Tensor, torch.Tensor], state: ReferencePass) -> torch.Tensor:
    mean, var = _statistics(hidden)
    ref_mean, ref_var = reference
    std = torch.maximum(var, torch.zeros_like(var) + _EPS) ** 0.5
    ref_std = torch.maximum(ref_var, torch.zeros_like(ref_var) + _EPS) ** 0.5
    renormalised = (((hidden - mean) / std) * ref_std) + ref_mean
    uncond = hidden[state.uncond_rows] if state.uncond_rows is not None else None
    return state.blend(renormalised, uncond)


def _adain_hook(point: str):  # noqa: ANN202 - a torch forward hook
    def hook(_module: torch.nn.Module, _args: object, output: torch.Tensor | tuple) -> object:
        state = active_pass()
        if state is None or point not in state.adain_points:
            return None
        hidden = output[0] if isinstance(output, tuple) else output
        if state.phase == "write":
            state.store_statistics(point, *_statistics(hidden))
            return None
        if state.phase == "read":
            adjusted = _adain(hidden, state.adain_bank[point], state)
        else:
            adjusted = torch.cat([hidden[:1], _adain(hidden[1:], _statistics(hidden[:1]), state)])
        return (adjusted, *output[1:]) if isinstance(output, tuple) else adjusted

    return hook


def install_adain_hooks(unet: UNet2DConditionModel) -> None:
    """Once per UNet: hooks do nothing unless a reference pass is active."""
    for point in adain_points_for(unet, weight=float("inf")):
        unet.get_submodule(point).register_forward_hook(_adain_hook(point))
