"""IP-Adapter checkpoints: the official file layouts read into one module per adapter.

The checkpoint numbers each transformer block's K'/V' pair by its processor's position in
``unet.attn_processors`` (down, up, then mid blocks; attn1 even, attn2 odd): the description's
``checkpoint_id``. ``IPAdapterWeights`` keeps them in execution order instead, the order of the layer grid.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention_processor import Attention
from diffusers.models.embeddings import ImageProjection
from safetensors.torch import load_file
from torch import nn

from ..errors import CheckpointError
from ..architecture import describe_unet


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


class IPAdapterWeights(nn.Module):
    """One loaded adapter: the image projection and a K'/V' pair per transformer block, execution order."""

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
    architecture = describe_unet(unet.config)
    for block in architecture.blocks:
        attn: Attention = unet.get_submodule(block.cross_attention)
        for target, kind in ((to_k_ip, "to_k_ip"), (to_v_ip, "to_v_ip")):
            key = f"{block.checkpoint_id}.{kind}.weight"
            weight = state["ip_adapter"].get(key)
            expected = (attn.to_k.out_features, unet.config.cross_attention_dim)
            if weight is None or tuple(weight.shape) != expected:
                found = "missing" if weight is None else f"shape {tuple(weight.shape)}"
                raise CheckpointError(
                    f"{path}: ip_adapter.{key} is {found}, expected {expected}; "
                    f"is it an {architecture.title} IP-Adapter?"
                )
            linear = nn.Linear(*reversed(expected), bias=False)
            linear.weight.data.copy_(weight)
            target.append(linear)
    return IPAdapterWeights(projection, to_k_ip, to_v_ip).to(unet.device, unet.dtype).eval()
