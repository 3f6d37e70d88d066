"""Tiny twins of h94/IP-Adapter's ``sdxl_models``: the four SDXL adapters and the ViT-bigG image encoder.

The real files pair with two encoders: ``ip-adapter_sdxl`` projects the OpenCLIP ViT-bigG/14 image
embeds (1280 wide; hidden states 1664), the three ``*_vit-h`` files read the ViT-H/14 encoder that
SD 1.5's adapters use (embeds 1024, hidden states 1280). The twins keep that structure at tiny widths:
the tiny "H" is the SD 1.5 set's ``models/image_encoder`` (32 and 32), the tiny "bigG" here is wider
(embeds 40, hidden states 48), so an adapter given the other encoder fails to fit, as the real
ones do. Keys and shapes otherwise follow the official checkpoints (``image_proj.*``, and
``ip_adapter.<n>.to_k_ip`` / ``to_v_ip`` for each of SDXL's 70 cross-attention layers).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from diffusers import UNet2DConditionModel
from safetensors.torch import save_file

from ..architecture import describe_unet
from .catalog import IMAGE_ENCODER
from .catalog_sdxl import SDXL_IMAGE_ENCODER, SDXL_IP_ADAPTERS, SDXL_IP_ENCODERS
from .sources import ModelSources
from .tiny_image_encoder import write_image_encoder

BIGG_EMBEDS = 40  # 1280 on ViT-bigG/14
BIGG_HIDDEN = 48  # 1664
H_EMBEDS = H_HIDDEN = 32  # the tiny SD 1.5 set's encoder (1024 and 1280 on ViT-H/14)
LINEAR_TOKENS = 4
PLUS_TOKENS = 16
PLUS_WIDTH = 24  # the Resampler's own width (1280 on the real SDXL plus)
PLUS_DEPTH = 4  # diffusers always builds a 4-block Resampler and loads it strictly
PLUS_HEAD_DIM = 64  # diffusers derives heads = rows(to_q) // 64
ENCODER_WIDTHS = {SDXL_IMAGE_ENCODER.key: (BIGG_EMBEDS, BIGG_HIDDEN), IMAGE_ENCODER.key: (H_EMBEDS, H_HIDDEN)}


def write_sdxl_ip_adapters(sources: ModelSources, unet: UNet2DConditionModel, seed: Callable[[str], None]) -> None:
    """The bigG encoder and the four adapter files, for the tiny SDXL ``unet`` (its 70 layers' widths)."""
    seed(SDXL_IMAGE_ENCODER.key)
    write_image_encoder(sources.local_path(SDXL_IMAGE_ENCODER), hidden=BIGG_HIDDEN, embeds=BIGG_EMBEDS)
    for variant, spec in SDXL_IP_ADAPTERS.items():
        seed(spec.key)
        embeds, hidden = ENCODER_WIDTHS[SDXL_IP_ENCODERS[variant].key]
        projection = _resampler(hidden, unet) if variant.startswith("plus") else _linear_projection(embeds, unet)
        state = {f"image_proj.{key}": value for key, value in projection.items()} | _ip_layers(unet)
        path = sources.local_path(spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({key: value.contiguous() for key, value in state.items()}, str(path), metadata={"format": "pt"})


def _ip_layers(unet: UNet2DConditionModel) -> dict[str, torch.Tensor]:
    """A K'/V' pair for each transformer block, numbered as the official checkpoints number them."""
    cross = unet.config.cross_attention_dim
    state = {}
    for block in describe_unet(unet.config).blocks:
        width = unet.get_submodule(block.cross_attention).to_k.out_features
        for kind in ("to_k_ip", "to_v_ip"):
            state[f"ip_adapter.{block.checkpoint_id}.{kind}.weight"] = _weight(width, cross)
    return state


def _linear_projection(embeds: int, unet: UNet2DConditionModel) -> dict[str, torch.Tensor]:
    cross = unet.config.cross_attention_dim
    return {
        "proj.weight": _weight(LINEAR_TOKENS * cross, embeds),
        "proj.bias": 0.02 * torch.randn(LINEAR_TOKENS * cross),
        "norm.weight": torch.ones(cross),
        "norm.bias": torch.zeros(cross),
    }


def _resampler(hidden: int, unet: UNet2DConditionModel) -> dict[str, torch.Tensor]:
    """IP-Adapter Plus's Resampler with the official key names (one head of 64)."""
    cross, dim = unet.config.cross_attention_dim, PLUS_WIDTH
    state = {
        "latents": torch.randn(1, PLUS_TOKENS, dim) / dim**0.5,
        "proj_in.weight": _weight(dim, hidden),
        "proj_in.bias": torch.zeros(dim),
        "proj_out.weight": _weight(cross, dim),
        "proj_out.bias": torch.zeros(cross),
        "norm_out.weight": torch.ones(cross),
        "norm_out.bias": torch.zeros(cross),
    }
    for layer in range(PLUS_DEPTH):
        attention, feed_forward = f"layers.{layer}.0", f"layers.{layer}.1"
        for norm in (f"{attention}.norm1", f"{attention}.norm2", f"{feed_forward}.0"):
            state |= {f"{norm}.weight": torch.ones(dim), f"{norm}.bias": torch.zeros(dim)}
        state[f"{attention}.to_q.weight"] = _weight(PLUS_HEAD_DIM, dim)
        state[f"{attention}.to_kv.weight"] = _weight(2 * PLUS_HEAD_DIM, dim)
        state[f"{attention}.to_out.weight"] = _weight(dim, PLUS_HEAD_DIM)
        state[f"{feed_forward}.1.weight"] = _weight(4 * dim, dim)
        state[f"{feed_forward}.3.weight"] = _weight(dim, 4 * dim)
    return state


def _weight(rows: int, columns: int) -> torch.Tensor:
    return torch.randn(rows, columns) / columns**0.5  # unit-scale activations, so the tokens matter
