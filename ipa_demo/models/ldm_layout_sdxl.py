"""diffusers SDXL weights renamed to the single-file layout that model sites publish (A1111, ComfyUI).

Beside the UNet and VAE under SD 1.5's prefixes (``ldm_layout``), such a file holds CLIP ViT-L as
``conditioner.embedders.0.transformer.*`` (transformers' names) and OpenCLIP ViT-bigG as
``conditioner.embedders.1.model.*`` in OpenCLIP's own names: one ``in_proj`` for q, k and v, ``mlp.c_fc``
/ ``c_proj``, and ``text_projection`` stored transposed. The tiny model set writes one from the tiny
SDXL folder so that tests load it back through diffusers' single-file loader.
"""

from __future__ import annotations

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTextModelWithProjection

from .ldm_layout import UNET_PREFIX, VAE_PREFIX, _renamed, unet_names, vae_state

CLIP_L_PREFIX = "conditioner.embedders.0.transformer."
OPEN_CLIP_PREFIX = "conditioner.embedders.1.model."
_OPEN_CLIP_LAYER = {
    "layer_norm1.": "ln_1.",
    "layer_norm2.": "ln_2.",
    "mlp.fc1.": "mlp.c_fc.",
    "mlp.fc2.": "mlp.c_proj.",
    "self_attn.out_proj.": "attn.out_proj.",
}


def sdxl_ldm_checkpoint(
    unet: UNet2DConditionModel,
    vae: AutoencoderKL,
    text_encoder: CLIPTextModel,
    text_encoder_2: CLIPTextModelWithProjection,
) -> dict[str, torch.Tensor]:
    """One state dict with the four models under the names an SDXL single file uses."""
    state = {UNET_PREFIX + name: tensor for name, tensor in _renamed(unet.state_dict(), unet_names(unet)).items()}
    state |= {VAE_PREFIX + name: tensor for name, tensor in vae_state(vae).items()}
    for name, tensor in text_encoder.state_dict().items():
        state[CLIP_L_PREFIX + (name if name.startswith("text_model.") else f"text_model.{name}")] = tensor
    state |= {OPEN_CLIP_PREFIX + name: tensor for name, tensor in open_clip_state(text_encoder_2).items()}
    return {name: tensor.contiguous() for name, tensor in state.items()}


def open_clip_state(encoder: CLIPTextModelWithProjection) -> dict[str, torch.Tensor]:
    """A transformers CLIP text encoder with projection in OpenCLIP's names (no prefix)."""
    model = encoder.text_model
    state = {
        "token_embedding.weight": model.embeddings.token_embedding.weight,
        "positional_embedding": model.embeddings.position_embedding.weight,
        "ln_final.weight": model.final_layer_norm.weight,
        "ln_final.bias": model.final_layer_norm.bias,
        "text_projection": encoder.text_projection.weight.T,  # OpenCLIP multiplies x @ text_projection
    }
    for index, layer in enumerate(model.encoder.layers):
        prefix = f"transformer.resblocks.{index}."
        attention = layer.self_attn
        projections = (attention.q_proj, attention.k_proj, attention.v_proj)
        state[prefix + "attn.in_proj_weight"] = torch.cat([p.weight for p in projections])
        state[prefix + "attn.in_proj_bias"] = torch.cat([p.bias for p in projections])
        for name, tensor in layer.state_dict().items():
            ours = next((source for source in _OPEN_CLIP_LAYER if name.startswith(source)), None)
            if ours is not None:
                state[prefix + _OPEN_CLIP_LAYER[ours] + name[len(ours) :]] = tensor
    return {name: tensor.detach().contiguous() for name, tensor in state.items()}
