"""IP-Adapter's decoupled image cross-attention, computed per call.

    Z = softmax(Q Kᵀ/√d) V + λ · softmax(Q K'ᵀ/√d) V',   K' = c·W'k,  V' = c·W'v

Unlike diffusers' ``IPAdapterAttnProcessor2_0``, which keeps λ in the processor (``set_ip_adapter_scale``
changes it for every request at once), our processors hold no request state at all: each UNet call
passes an ``IPAttention`` through ``cross_attention_kwargs`` carrying the image tokens, the adapter
weights and one scale per layer. Concurrent requests with different λ, masks or variants therefore
cannot see each other's settings, and the step window is just "pass None outside it".
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

from .injection import InjectionRecorder
from .weights import IPAdapterWeights


@dataclass(frozen=True)
class IPAttention:
    """What one UNet call asks of the image cross-attention."""

    weights: IPAdapterWeights
    tokens: torch.Tensor  # (batch, image tokens, cross dim), batch ordered like the latents
    layer_scales: tuple[float, ...]  # λ per layer, execution order
    recorder: InjectionRecorder | None = None  # asked for injection maps

    def with_rows_in_front(self, selection: slice) -> IPAttention:
        """The same attention for a batch with copies of some of its rows put in front."""
        recorder = self.recorder.shifted(selection.stop - selection.start) if self.recorder is not None else None
        return replace(self, tokens=torch.cat([self.tokens[selection], self.tokens]), recorder=recorder)


class CrossAttnProcessor:
    """attn2: text cross-attention, plus the image branch when this layer's λ is not zero."""

    def __init__(self, layer_index: int) -> None:
        self.layer_index = layer_index
        self._plain = AttnProcessor2_0()

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        ip: IPAttention | None = None,
    ) -> torch.Tensor:
        scale = 0.0 if ip is None else ip.layer_scales[self.layer_index]
        if scale == 0.0:  # bit-identical to a UNet without the adapter
            return self._plain(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        assert ip is not None and encoder_hidden_states is not None
        return self._with_image(attn, hidden_states, encoder_hidden_states, attention_mask, temb, ip, scale)

    def _with_image(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        text: torch.Tensor,
        attention_mask: torch.Tensor | None,
        temb: torch.Tensor | None,
        ip: IPAttention,
        scale: float,
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
            return tensor.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)

        def merge(tensor: torch.Tensor) -> torch.Tensor:
            return tensor.transpose(1, 2).reshape(batch_size, -1, attn.heads * head_dim).to(query.dtype)

        query = heads(query)
        out = merge(F.scaled_dot_product_attention(query, heads(key), heads(value), attn_mask=attention_mask))
        image_key = heads(ip.weights.to_k_ip[self.layer_index](ip.tokens))
        image_value = heads(ip.weights.to_v_ip[self.layer_index](ip.tokens))
        image_branch = scale * merge(F.scaled_dot_product_attention(query, image_key, image_value))
        if ip.recorder is not None:
            ip.recorder.add(self.layer_index, image_branch)
        out = out + image_branch

        out = attn.to_out[1](attn.to_out[0](out))
        if input_ndim == 4:
            out = out.transpose(-1, -2).reshape(batch_size, channel, height, width)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor
