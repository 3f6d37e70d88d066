"""IP-Adapter: checkpoint loading and the decoupled image cross-attention.

    Z = softmax(Q Kᵀ/√d) V + λ · softmax(Q K'ᵀ/√d) V',   K' = c·W'k,  V' = c·W'v

Unlike diffusers' ``IPAdapterAttnProcessor2_0``, which keeps λ in the processor (``set_ip_adapter_scale``
changes it for every request at once), our processors hold no request state at all: each UNet call
passes an ``IPAttention`` through ``cross_attention_kwargs`` carrying the image tokens, the adapter
weights and one scale per layer. Concurrent requests with different λ, masks or variants therefore
cannot see each other's settings, and the step window is just "pass None outside it".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from diffusers.models.embeddings import ImageProjection
from safetensors.torch import load_file
from torch import nn

from .errors import CheckpointError
from .layers import CROSS_ATTENTION_LAYERS, processor_name


def read_checkpoint(path: Path) -> dict[str, dict[str, torch.Tensor]]:
    """The official layout ``{"image_proj": {...}, "ip_adapter": {...}}`` from .safetensors or .bin."""
    try:
        if path.suffix == ".safetensors":
            flat = load_file(path)
            state: dict[str, dict[str, torch.Tensor]] = {"image_proj": {}, "ip_adapter": {}}
            for key, tensor in flat.items():
                group, _, rest = key.partition(".")
                if group in state:
                    state[group][rest] = tensor
        else:  # pickle: tensors only, never arbitrary objects
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"cannot read IP-Adapter checkpoint {path}: {error}") from None
    if not isinstance(state, dict) or not state.get("image_proj") or not state.get("ip_adapter"):
        raise CheckpointError(f"{path} is not an IP-Adapter checkpoint (no image_proj / ip_adapter weights)")
    return state


def checkpoint_ids(unet: UNet2DConditionModel) -> dict[str, int]:
    """Layer name -> its number in the checkpoint: the processor's position in ``unet.attn_processors``.

    That dict lists down, up, then mid blocks, with attn1 (even) before attn2 (odd).
    """
    positions = {name: index for index, name in enumerate(unet.attn_processors)}
    return {layer: positions[processor_name(layer)] for layer in CROSS_ATTENTION_LAYERS}


class IPAdapterWeights(nn.Module):
    """One loaded adapter: the image projection and a K'/V' pair for each layer, execution order."""

    def __init__(self, image_projection: nn.Module, to_k_ip: nn.ModuleList, to_v_ip: nn.ModuleList) -> None:
        super().__init__()
        self.image_projection = image_projection
        self.to_k_ip = to_k_ip
        self.to_v_ip = to_v_ip

    @property
    def uses_hidden_states(self) -> bool:
        """Base and light project CLIP's pooled image embeds; plus and full-face its hidden states."""
        return not isinstance(self.image_projection, ImageProjection)

    @property
    def dtype(self) -> torch.dtype:
        return self.to_k_ip[0].weight.dtype

    def image_tokens(self, encodings: torch.Tensor) -> torch.Tensor:
        """(batch, embed) or (batch, tokens, hidden) encoder output -> (batch, image tokens, cross dim)."""
        return self.image_projection(encodings)


def load_ip_adapter(path: Path, unet: UNet2DConditionModel) -> IPAdapterWeights:
    state = read_checkpoint(path)
    try:
        # diffusers' own converter turns the official key names into its projection modules.
        projection = unet._convert_ip_adapter_image_proj_to_diffusers(state["image_proj"], low_cpu_mem_usage=False)
    except Exception as error:
        raise CheckpointError(f"{path}: unsupported image projection ({error})") from None
    to_k_ip, to_v_ip = nn.ModuleList(), nn.ModuleList()
    ids = checkpoint_ids(unet)
    for layer in CROSS_ATTENTION_LAYERS:
        attn: Attention = unet.get_submodule(f"{layer}.transformer_blocks.0.attn2")
        for target, kind in ((to_k_ip, "to_k_ip"), (to_v_ip, "to_v_ip")):
            key = f"{ids[layer]}.{kind}.weight"
            weight = state["ip_adapter"].get(key)
            expected = (attn.to_k.out_features, unet.config.cross_attention_dim)
            if weight is None or tuple(weight.shape) != expected:
                found = "missing" if weight is None else f"shape {tuple(weight.shape)}"
                raise CheckpointError(
                    f"{path}: ip_adapter.{key} is {found}, expected {expected}; is it an SD1.5 IP-Adapter?"
                )
            linear = nn.Linear(*reversed(expected), bias=False)
            linear.weight.data.copy_(weight)
            target.append(linear)
    return IPAdapterWeights(projection, to_k_ip, to_v_ip).to(unet.device, unet.dtype).eval()


@dataclass(frozen=True)
class IPAttention:
    """What one UNet call asks of the image cross-attention."""

    weights: IPAdapterWeights
    tokens: torch.Tensor  # (batch, image tokens, cross dim), batch ordered like the latents
    layer_scales: tuple[float, ...]  # λ per layer, execution order

    def with_rows_in_front(self, selection: slice) -> IPAttention:
        """The same attention for a batch with copies of some of its rows put in front."""
        return IPAttention(self.weights, torch.cat([self.tokens[selection], self.tokens]), self.layer_scales)


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
        out = out + scale * merge(F.scaled_dot_product_attention(query, image_key, image_value))

        out = attn.to_out[1](attn.to_out[0](out))
        if input_ndim == 4:
            out = out.transpose(-1, -2).reshape(batch_size, channel, height, width)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor
