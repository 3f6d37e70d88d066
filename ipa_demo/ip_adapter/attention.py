"""IP-Adapter's decoupled image cross-attention, computed per call.

    Z = softmax(Q Kᵀ/√d) V + Σ_units λ · softmax(Q K'ᵀ/√d + b) V',   K' = c·W'k,  V' = c·W'v

Unlike diffusers' ``IPAdapterAttnProcessor2_0``, which keeps λ in the processor (``set_ip_adapter_scale``
changes it for every request at once), our processors hold no request state at all: each UNet call
passes its ``IPAttention``s (one per adapter unit) through ``cross_attention_kwargs`` carrying the image
tokens, the adapter weights and one scale per layer. Concurrent requests with different λ, masks or
variants therefore cannot see each other's settings, and the step window is just "leave it out".

Several references of one unit either share one softmax (their tokens side by side, ``b`` the log of
each reference's weight) or, with region masks, attend one by one, each output masked at the layer's
resolution and weighed on its own (``Regions``), as diffusers does given ``ip_adapter_masks``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

from .injection import InjectionRecorder
from .regions import Regions
from .weights import IPAdapterWeights


@dataclass(frozen=True)
class IPAttention:
    """What one UNet call asks of one adapter unit's image cross-attention."""

    weights: IPAdapterWeights
    # (batch, image tokens, cross dim), batch ordered like the latents; with ``regions``
    # (batch, references, tokens per reference, cross dim)
    tokens: torch.Tensor
    layer_scales: tuple[float, ...]  # λ per layer (attention module), execution order
    token_bias: torch.Tensor | None = None  # (1, 1, 1, image tokens) added to the image attention's logits
    regions: Regions | None = None  # each reference attends on its own, masked
    recorder: InjectionRecorder | None = None  # asked for injection maps
    # The batch rows this unit acts on, ``tokens`` holding theirs only (several generations in one
    # call, as a sweep's cells); None: every row.
    rows: torch.Tensor | None = None
    # λ per transformer block (execution order) when given per block (SDXL's 70); None: each block its module's
    block_scales: tuple[float, ...] | None = None

    def scale_at(self, layer: int, block: int) -> float:
        return self.layer_scales[layer] if self.block_scales is None else self.block_scales[block]

    def with_rows_in_front(self, selection: slice) -> IPAttention:
        """The same attention for a batch with copies of some of its rows put in front."""
        if self.rows is not None:
            raise ValueError("a unit acting on some rows only cannot follow rows put in front")
        recorder = self.recorder.shifted(selection.stop - selection.start) if self.recorder is not None else None
        return replace(self, tokens=torch.cat([self.tokens[selection], self.tokens]), recorder=recorder)


ImagePrompts = IPAttention | Sequence[IPAttention] | None
KEY = "ip"  # the processors' keyword: a UNet call's ``attention[KEY]`` reaches them as ``ip=``


def _units(ip: ImagePrompts) -> Sequence[IPAttention]:
    if ip is None:
        return ()
    return (ip,) if isinstance(ip, IPAttention) else ip


class CrossAttnProcessor:
    """attn2: text cross-attention, plus the image branch of each unit whose λ here is not zero."""

    def __init__(self, layer_index: int, block_index: int | None = None) -> None:
        self.layer_index = layer_index  # its attention module: the layer mask's bit, λ's index
        self.block_index = layer_index if block_index is None else block_index  # its transformer block: K'/V'
        self._plain = AttnProcessor2_0()

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        ip: ImagePrompts = None,
    ) -> torch.Tensor:
        acting = [unit for unit in _units(ip) if unit.scale_at(self.layer_index, self.block_index) != 0.0]
        if not acting:  # bit-identical to a UNet without the adapter
            return self._plain(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        assert encoder_hidden_states is not None
        return self._with_images(attn, hidden_states, encoder_hidden_states, attention_mask, temb, acting)

    def _with_images(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        text: torch.Tensor,
        attention_mask: torch.Tensor | None,
        temb: torch.Tensor | None,
        units: Sequence[IPAttention],
    ) -> torch.Tensor:
        # Same operations, in the same order, as diffusers' IPAdapterAttnProcessor2_0, so that parity
        # tests can hold the two to equal outputs.
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch_size, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch_size, channel, height * width).transpose(1, 2)
        batch_size, sequence_length, _ = text.shape
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, sequence_length, batch_size)
            attention_mask = attention_mask.view(batch_size, attn.heads, -1, attention_mask.shape[-1])
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        query = attn.to_q(hidden_states)
        if attn.norm_cross:
            text = attn.norm_encoder_hidden_states(text)
        key, value = attn.to_k(text), attn.to_v(text)
        head_dim = key.shape[-1] // attn.heads

        def heads(tensor: torch.Tensor) -> torch.Tensor:
            return tensor.view(tensor.shape[0], -1, attn.heads, head_dim).transpose(1, 2)

        def merge(tensor: torch.Tensor) -> torch.Tensor:
            return tensor.transpose(1, 2).reshape(tensor.shape[0], -1, attn.heads * head_dim).to(query.dtype)

        query = heads(query)
        out = merge(F.scaled_dot_product_attention(query, heads(key), heads(value), attn_mask=attention_mask))
        for unit in units:
            if unit.rows is None:
                out = self._add_image_branch(out, query, unit, heads, merge)
            else:
                rows = self._add_image_branch(out[unit.rows], query[unit.rows], unit, heads, merge)
                out = out.index_copy(0, unit.rows, rows)

        out = attn.to_out[1](attn.to_out[0](out))
        if input_ndim == 4:
            out = out.transpose(-1, -2).reshape(batch_size, channel, height, width)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor

    def _add_image_branch(
        self,
        out: torch.Tensor,
        query: torch.Tensor,
        unit: IPAttention,
        heads: Callable[[torch.Tensor], torch.Tensor],
        merge: Callable[[torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        scale = unit.scale_at(self.layer_index, self.block_index)
        to_k, to_v = unit.weights.to_k_ip[self.block_index], unit.weights.to_v_ip[self.block_index]
        if unit.regions is None:
            bias = None if unit.token_bias is None else unit.token_bias.to(query.dtype)
            key, value = heads(to_k(unit.tokens)), heads(to_v(unit.tokens))
            image = F.scaled_dot_product_attention(query, key, value, attn_mask=bias)
            return out + self._recorded(unit, scale * merge(image))
        for index, weight in enumerate(unit.regions.weights):
            if weight == 0.0:
                continue
            tokens = unit.tokens[:, index]
            image = merge(F.scaled_dot_product_attention(query, heads(to_k(tokens)), heads(to_v(tokens))))
            masked = (scale * weight) * (image * unit.regions.mask(index, image.shape[1], image.dtype))
            out = out + self._recorded(unit, masked)
        return out

    def _recorded(self, unit: IPAttention, branch: torch.Tensor) -> torch.Tensor:
        if unit.recorder is not None:
            unit.recorder.add(self.layer_index, branch)
        return branch
