"""diffusers SD1.x weights renamed to the original (CompVis LDM) single-file layout.

Model sites publish SD1.5 fine-tunes as one ``.safetensors`` in this layout (``model.diffusion_model.*``,
``first_stage_model.*``, ``cond_stage_model.transformer.*``). The tiny model set writes one from the
tiny SD1.5 so that tests can load it back through diffusers' single-file loader; the names below are
the inverse of what that loader maps, derived from each model's config so that they fit any widths.
"""

from __future__ import annotations

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from torch import nn

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
TEXT_PREFIX = "cond_stage_model.transformer."

_UNET_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
_VAE_RESNET = {"conv_shortcut": "nin_shortcut"}
_VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def ldm_checkpoint(unet: UNet2DConditionModel, vae: AutoencoderKL, text_encoder: nn.Module) -> dict[str, torch.Tensor]:
    """One state dict with all three models under their original names and prefixes."""
    state = {UNET_PREFIX + name: tensor for name, tensor in _renamed(unet.state_dict(), unet_names(unet)).items()}
    state |= {VAE_PREFIX + name: tensor for name, tensor in vae_state(vae).items()}
    state |= {TEXT_PREFIX + _text_name(name): tensor for name, tensor in text_encoder.state_dict().items()}
    return {name: tensor.contiguous() for name, tensor in state.items()}


def _text_name(name: str) -> str:
    # transformers 5 flattened CLIPTextModel; the original files keep ``text_model.`` (as transformers 4 did).
    return name if name.startswith("text_model.") else f"text_model.{name}"


def _renamed(state: dict[str, torch.Tensor], prefixes: dict[str, str]) -> dict[str, torch.Tensor]:
    """Rename by the longest matching module prefix (``a.b.`` -> ``x.y.``); every key must match one."""
    ordered = sorted(prefixes.items(), key=lambda item: -len(item[0]))
    renamed = {}
    for name, tensor in state.items():
        source, target = next((s, t) for s, t in ordered if name.startswith(s))
        renamed[target + name[len(source) :]] = tensor
    return renamed


def _resnet(source: str, target: str, table: dict[str, str]) -> dict[str, str]:
    names = {f"{source}.": f"{target}."}
    names |= {f"{source}.{ours}.": f"{target}.{theirs}." for ours, theirs in table.items()}
    return names


def unet_names(unet: UNet2DConditionModel) -> dict[str, str]:
    """diffusers module prefix -> LDM module prefix, for an SD1.x or SDXL UNet of any widths."""
    config = unet.config
    per_block = config.layers_per_block
    names = {
        "time_embedding.linear_1.": "time_embed.0.",
        "time_embedding.linear_2.": "time_embed.2.",
        "conv_in.": "input_blocks.0.0.",
        "conv_norm_out.": "out.0.",
        "conv_out.": "out.2.",
    }
    if getattr(unet, "add_embedding", None) is not None:  # SDXL's pooled text + time ids embedding
        names |= {"add_embedding.linear_1.": "label_emb.0.0.", "add_embedding.linear_2.": "label_emb.0.2."}
    for block_index, block in enumerate(unet.down_blocks):
        for layer in range(per_block):
            slot = (per_block + 1) * block_index + layer + 1
            names |= _resnet(f"down_blocks.{block_index}.resnets.{layer}", f"input_blocks.{slot}.0", _UNET_RESNET)
            if getattr(block, "attentions", None):
                names[f"down_blocks.{block_index}.attentions.{layer}."] = f"input_blocks.{slot}.1."
        if block.downsamplers:
            names[f"down_blocks.{block_index}.downsamplers.0.conv."] = (
                f"input_blocks.{(per_block + 1) * (block_index + 1)}.0.op."
            )
    names |= _resnet("mid_block.resnets.0", "middle_block.0", _UNET_RESNET)
    names["mid_block.attentions.0."] = "middle_block.1."
    names |= _resnet("mid_block.resnets.1", "middle_block.2", _UNET_RESNET)
    for block_index, block in enumerate(unet.up_blocks):
        for layer in range(per_block + 1):
            slot = (per_block + 1) * block_index + layer
            names |= _resnet(f"up_blocks.{block_index}.resnets.{layer}", f"output_blocks.{slot}.0", _UNET_RESNET)
            if getattr(block, "attentions", None):
                names[f"up_blocks.{block_index}.attentions.{layer}."] = f"output_blocks.{slot}.1."
        if block.upsamplers:
            last = (per_block + 1) * block_index + per_block
            position = 2 if getattr(block, "attentions", None) else 1
            names[f"up_blocks.{block_index}.upsamplers.0.conv."] = f"output_blocks.{last}.{position}.conv."
    return names


def vae_state(vae: AutoencoderKL) -> dict[str, torch.Tensor]:
    """A VAE alone in the LDM layout, without prefix (as VAE files are published)."""
    state = _renamed(vae.state_dict(), vae_names(vae))
    # The original mid-block attention uses 1x1 convolutions where diffusers has linear layers.
    for name, tensor in state.items():
        if ".mid.attn_1." in name and name.endswith(".weight") and tensor.ndim == 2:
            state[name] = tensor[:, :, None, None]
    return state


def vae_names(vae: AutoencoderKL) -> dict[str, str]:
    """diffusers module prefix -> LDM module prefix, for an SD VAE of any widths."""
    names = {"quant_conv.": "quant_conv.", "post_quant_conv.": "post_quant_conv."}
    for part in ("encoder", "decoder"):
        names |= {f"{part}.conv_in.": f"{part}.conv_in.", f"{part}.conv_out.": f"{part}.conv_out."}
        names[f"{part}.conv_norm_out."] = f"{part}.norm_out."
        names |= _resnet(f"{part}.mid_block.resnets.0", f"{part}.mid.block_1", _VAE_RESNET)
        names |= _resnet(f"{part}.mid_block.resnets.1", f"{part}.mid.block_2", _VAE_RESNET)
        for ours, theirs in _VAE_ATTENTION.items():
            names[f"{part}.mid_block.attentions.0.{ours}."] = f"{part}.mid.attn_1.{theirs}."
    for index, block in enumerate(vae.encoder.down_blocks):
        for layer in range(len(block.resnets)):
            names |= _resnet(
                f"encoder.down_blocks.{index}.resnets.{layer}", f"encoder.down.{index}.block.{layer}", _VAE_RESNET
            )
        if block.downsamplers:
            names[f"encoder.down_blocks.{index}.downsamplers.0.conv."] = f"encoder.down.{index}.downsample.conv."
    count = len(vae.decoder.up_blocks)
    for index, block in enumerate(vae.decoder.up_blocks):
        level = count - 1 - index  # the original numbers decoder levels from the lowest resolution up
        for layer in range(len(block.resnets)):
            names |= _resnet(
                f"decoder.up_blocks.{index}.resnets.{layer}", f"decoder.up.{level}.block.{layer}", _VAE_RESNET
            )
        if block.upsamplers:
            names[f"decoder.up_blocks.{index}.upsamplers.0.conv."] = f"decoder.up.{level}.upsample.conv."
    return names
