"""The trainable adapter: an ``IPAdapterWeights`` made fresh from the UNet or read from a checkpoint,
and written back in the official layout (``image_proj.*``, ``ip_adapter.<n>.to_k_ip/to_v_ip.weight``).

The module is the very class the app generates with, so a training step runs the app's own image
cross-attention (``CrossAttnProcessor``) and what is trained is what is served.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.embeddings import ImageProjection, IPAdapterPlusImageProjection
from safetensors.torch import save_file
from torch import nn

from ..architecture import describe_unet
from ..ip_adapter.weights import IPAdapterWeights, load_ip_adapter

LINEAR_VARIANTS = ("base", "vit-h")  # a linear projection of CLIP's image embeds (ViT-bigG or ViT-H on SDXL)
BASE_TOKENS = 4
PLUS_TOKENS = 16
PLUS_DEPTH = 4
PLUS_HEAD_DIM = 64  # diffusers reads heads back as rows(to_q) // 64


def new_adapter(unet: UNet2DConditionModel, variant: str, projection_dim: int, hidden_size: int) -> IPAdapterWeights:
    """A fresh adapter for ``unet``, initialised as the official training scripts do.

    ``projection_dim`` / ``hidden_size`` are the image encoder's (1024 / 1280 for ViT-H, 1280 / 1664
    for ViT-bigG): base and vit-h project the pooled image embeds, plus resamples the penultimate
    hidden states.
    """
    architecture = describe_unet(unet.config)
    cross_dim = architecture.cross_attention_dim
    if variant in LINEAR_VARIANTS:
        projection: nn.Module = ImageProjection(
            cross_attention_dim=cross_dim, image_embed_dim=projection_dim, num_image_text_embeds=BASE_TOKENS
        )
    elif variant == "plus":
        # The Resampler's own width: the UNet's cross-attention width on SD 1.5 (768, tutorial_train_plus.py),
        # the image encoder's hidden width on SDXL (1280, h94's ip-adapter-plus_sdxl_vit-h), 64 per head.
        width = hidden_size if architecture.family == "sdxl" else cross_dim
        projection = IPAdapterPlusImageProjection(
            embed_dims=hidden_size,
            output_dims=cross_dim,
            hidden_dims=width,
            depth=PLUS_DEPTH,
            dim_head=PLUS_HEAD_DIM,
            heads=max(1, width // PLUS_HEAD_DIM),
            num_queries=PLUS_TOKENS,
        )
    else:
        raise ValueError(f"unknown variant {variant!r}")
    to_k_ip, to_v_ip = nn.ModuleList(), nn.ModuleList()
    for block in architecture.blocks:
        attn = unet.get_submodule(block.cross_attention)
        # K' and V' start as copies of the text K and V: the image branch begins as a second look
        # at the same projection, which trains faster than noise (the official script does this).
        for target, source in ((to_k_ip, attn.to_k), (to_v_ip, attn.to_v)):
            linear = nn.Linear(source.in_features, source.out_features, bias=False)
            linear.weight.data.copy_(source.weight.data)
            target.append(linear)
    adapter = IPAdapterWeights(projection, to_k_ip, to_v_ip)
    return adapter.to(device=unet.device, dtype=torch.float32)


def adapter_from_checkpoint(path: Path, unet: UNet2DConditionModel) -> IPAdapterWeights:
    """Continue from an official-layout checkpoint (``CheckpointError`` names the file if it does not fit)."""
    return load_ip_adapter(path, unet).to(torch.float32)


def variant_of(adapter: IPAdapterWeights) -> str:
    return "plus" if isinstance(adapter.image_projection, IPAdapterPlusImageProjection) else "base"


def trainable_parameters(adapter: nn.Module) -> int:
    return sum(parameter.numel() for parameter in adapter.parameters() if parameter.requires_grad)


def parameter_count(unet_config: dict[str, object], variant: str, projection_dim: int, hidden_size: int) -> int:
    """Size of the adapter for a UNet described by its config alone: built on the meta device, no weights."""
    with torch.device("meta"):
        unet = UNet2DConditionModel(**unet_config)
        return trainable_parameters(new_adapter(unet, variant, projection_dim, hidden_size))


# --- The official layout -------------------------------------------------------------------------

# diffusers' Resampler names -> the official resampler.py names (the inverse of diffusers' converter).
_PLUS_RENAMES = (
    (r"layers\.(\d+)\.ln0\.", r"layers.\1.0.norm1."),
    (r"layers\.(\d+)\.ln1\.", r"layers.\1.0.norm2."),
    (r"layers\.(\d+)\.attn\.to_q\.", r"layers.\1.0.to_q."),
    (r"layers\.(\d+)\.attn\.to_out\.0\.", r"layers.\1.0.to_out."),
    (r"layers\.(\d+)\.ff\.0\.", r"layers.\1.1.0."),
    (r"layers\.(\d+)\.ff\.1\.net\.0\.proj\.", r"layers.\1.1.1."),
    (r"layers\.(\d+)\.ff\.1\.net\.2\.", r"layers.\1.1.3."),
)


def _projection_to_official(projection: nn.Module) -> dict[str, torch.Tensor]:
    state = projection.state_dict()
    if isinstance(projection, ImageProjection):
        return {key.replace("image_embeds.", "proj."): value for key, value in state.items()}
    if not isinstance(projection, IPAdapterPlusImageProjection):
        raise TypeError(f"cannot export a {type(projection).__name__} image projection")
    official: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        fused = re.fullmatch(r"layers\.(\d+)\.attn\.to_([kv])\.weight", key)
        if fused:  # the official resampler keeps K and V as one to_kv matrix, K rows first
            if fused.group(2) == "k":
                value_key = key.replace(".to_k.", ".to_v.")
                official[f"layers.{fused.group(1)}.0.to_kv.weight"] = torch.cat([value, state[value_key]])
            continue
        for pattern, replacement in _PLUS_RENAMES:
            key = re.sub(pattern, replacement, key)
        official[key] = value
    return official


def official_state_dict(adapter: IPAdapterWeights, unet: UNet2DConditionModel) -> dict[str, torch.Tensor]:
    """Flat keys as in h94's ``.safetensors``; blocks numbered by their ``checkpoint_id`` (1, 3, …, 31 on SD 1.5)."""
    state = {f"image_proj.{key}": value for key, value in _projection_to_official(adapter.image_projection).items()}
    for index, block in enumerate(describe_unet(unet.config).blocks):
        state[f"ip_adapter.{block.checkpoint_id}.to_k_ip.weight"] = adapter.to_k_ip[index].weight
        state[f"ip_adapter.{block.checkpoint_id}.to_v_ip.weight"] = adapter.to_v_ip[index].weight
    return {key: value.detach().to("cpu", torch.float32).contiguous() for key, value in state.items()}


def save_adapter(adapter: IPAdapterWeights, unet: UNet2DConditionModel, path: Path) -> Path:
    """Write the adapter as a float32 ``.safetensors`` that this app, diffusers and the official code load."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    save_file(official_state_dict(adapter, unet), str(partial), metadata={"format": "pt"})
    partial.replace(path)  # a run killed mid-write never leaves a truncated checkpoint under the real name
    return path
