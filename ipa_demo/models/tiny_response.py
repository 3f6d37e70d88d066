"""Weights chosen so that every tiny conditioner responds to its input, as the trained ones do.

With every weight left to its class's default initialisation, a 64² generation ignored a ControlNet
map (edges and a blank map gave identical pixels) and a reference-only reference (dark vs yellow:
1/255), so parity tests on them passed whatever the code did to those inputs. The causes, and what
is set here instead (every other weight stays random):

- ControlNet: diffusers builds the conditioning embedding (eight small convs over the map) with
  PyTorch's default initialisation, which shrinks a signal ~√3 per conv and again at each SiLU: the
  map reached the UNet at ~1e-5. The paper initialises them Gaussian; ours are Gaussian, rescaled so
  the embedding of a random map has unit spread like the latent's own features, and the "zero
  convs" of ``from_unet`` are Gaussian too (a zero conv changes nothing).
- T2I-Adapter: the same default shrinks the map at every conv; Gaussian weights keep its scale.
- VAE encoder (reference-only reads the reference through it): the default posterior was a mean of
  ~0.2 under noise of spread ~1, so two references gave the same latents up to noise. The trained
  SD1.5 VAE gives latents of spread ≈ 1/0.18215 (how the scaling factor was chosen) and a nearly
  certain posterior: ``quant_conv`` is set so.
- UNet: a random UNet does not remove the sampler's starting noise, so the final latents were that
  noise (spread ~16 instead of ~1) and anything a conditioner did in the later steps changed them by
  a fraction of a percent. A carry from input to output makes it predict its input as the noise,
  the simplest denoiser. Its self-attention averaged all tokens alike (logits of spread ~0.1), its
  own and a reference's, so what the reference showed did not matter: queries and keys are scaled
  so each token attends to a few others.
- SDXL's ten-deep transformer stacks (``steady_deep_stacks``): with that focused self-attention ten
  blocks in a row grew float rounding ~10x per stack, so parity held for one step only; each block's
  self-attention and feed-forward write at 1/sqrt(depth), as deep transformers are initialised.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from diffusers import AutoencoderKL, ControlNetModel, T2IAdapter, UNet2DConditionModel
from torch import nn

CONTROLNET_EMBEDDING_CHANNELS = (8, 16, 32, 32)  # three stride-2 convs: /8 like the VAE
T2I_IN_CHANNELS = {"canny": 1, "depth": 3, "openpose": 3}
SILU_GAIN = 1.7  # a unit Gaussian keeps its scale through SiLU then a conv with std gain/√fan_in
LATENT_STD = 1 / 0.18215  # the unscaled latents' spread the SD1.5 scaling factor assumes
POSTERIOR_LOGVAR = -8.0  # a posterior standard deviation of ~0.02 in unscaled latent units
RANDOM_SHARE = 0.5  # what stays of the random weights where the denoising carry is added
QUERY_KEY_GAIN = 2.0  # attention logits of spread ~gain² = 4: each token attends to a few others


def write_controlnet(unet: UNet2DConditionModel, folder: Path) -> None:
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=CONTROLNET_EMBEDDING_CHANNELS)
    embedding = controlnet.controlnet_cond_embedding
    for conv in (embedding.conv_in, *embedding.blocks):
        _gaussian(conv, SILU_GAIN)
    _gaussian(embedding.conv_out, 1.0)
    with torch.no_grad():  # eight random convs of 8-32 channels scale a signal by anything from 0.1 to 2
        embedding.conv_out.weight /= embedding(torch.rand(1, 3, 64, 64)).std()
    for conv in (*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block):
        _gaussian(conv, 1.0)
    controlnet.save_pretrained(folder, safe_serialization=True)


def write_t2i_adapter(
    in_channels: int,
    channels: tuple[int, ...],
    folder: Path,
    adapter_type: str = "full_adapter",
    downscale_factor: int = 8,
) -> None:
    """SD 1.5's adapters are ``full_adapter`` (/8); SDXL's ``full_adapter_xl`` (/16, one more block)."""
    adapter = T2IAdapter(
        in_channels=in_channels,
        channels=list(channels),
        num_res_blocks=2,
        downscale_factor=downscale_factor,
        adapter_type=adapter_type,
    )
    for module in adapter.modules():
        if isinstance(module, nn.Conv2d):
            _gaussian(module, SILU_GAIN)
    adapter.save_pretrained(folder, safe_serialization=True)


def sharpen_posterior(vae: AutoencoderKL) -> None:
    """Scale ``quant_conv``'s mean rows so that the latents of random images spread as SD1.5's do,
    and make the posterior nearly certain, as a trained VAE's is."""
    latent_channels = vae.config.latent_channels
    probe = 2 * torch.rand(2, 3, 32, 32) - 1  # from the component's seeded stream
    with torch.no_grad():
        mean = vae.quant_conv(vae.encoder(probe))[:, :latent_channels]
        vae.quant_conv.weight[:latent_channels] *= LATENT_STD / mean.std()
        vae.quant_conv.bias[:latent_channels] *= LATENT_STD / mean.std()
        vae.quant_conv.weight[latent_channels:] = 0.0
        vae.quant_conv.bias[latent_channels:] = POSTERIOR_LOGVAR


def denoising_skip(unet: UNet2DConditionModel) -> None:
    """A carry that predicts the UNet's (scaled) input as the noise: conv_in's first channels take
    +latent and -latent, the skip from conv_in passes the last resnet's shortcut unchanged, and
    conv_out takes SiLU(+h) - SiLU(-h) = h back. The random blocks add their share on top."""
    latent, width = unet.config.in_channels, unet.config.block_out_channels[0]
    carry = torch.zeros(width, latent)
    carry[:latent] = torch.eye(latent)
    carry[latent : 2 * latent] = -torch.eye(latent)
    last = unet.up_blocks[-1].resnets[-1].conv_shortcut
    with torch.no_grad():
        unet.conv_in.weight[: 2 * latent] *= RANDOM_SHARE
        unet.conv_in.weight[: 2 * latent, :, 1, 1] += carry[: 2 * latent]
        last.weight[:, width:] = 0.0
        last.weight[: 2 * latent, width : width + 2 * latent, 0, 0] = torch.eye(2 * latent)
        unet.conv_out.weight *= RANDOM_SHARE
        unet.conv_out.weight[:, :, 1, 1] += carry.T
        unet.conv_out.bias.zero_()


def focused_self_attention(unet: UNet2DConditionModel) -> None:
    """Self-attention that tells tokens apart, and writes at the scale of the residual stream."""
    for name, module in unet.named_modules():
        if name.endswith("attn1"):
            sharp, plain = (module.to_q, module.to_k), (module.to_v, module.to_out[0])
            for linear, gain in (*((layer, QUERY_KEY_GAIN) for layer in sharp), *((layer, 1.0) for layer in plain)):
                nn.init.normal_(linear.weight, std=gain / math.sqrt(linear.in_features))


def steady_deep_stacks(unet: UNet2DConditionModel) -> None:
    """Each transformer block's self-attention and feed-forward write to the residual stream scaled by
    1/sqrt(blocks in its stack), as deep transformers are initialised (GPT-2). SDXL's stacks are ten deep;
    unscaled, the focused self-attention of ten blocks in a row on 2x2 tokens multiplied a float rounding
    ~10x per stack, so a batch and a single run (or two exact computations in another order) drifted
    3e-3..3e-2 apart in three steps. Scaled, 1e-5. Cross-attention (text and image tokens) keeps its scale."""
    for module in unet.modules():
        blocks = getattr(module, "transformer_blocks", None)
        if blocks is None:
            continue
        with torch.no_grad():
            for block in blocks:
                block.attn1.to_out[0].weight /= math.sqrt(len(blocks))
                block.ff.net[2].weight /= math.sqrt(len(blocks))


def _gaussian(conv: nn.Conv2d, gain: float) -> None:
    fan_in = conv.in_channels // conv.groups * math.prod(conv.kernel_size)
    nn.init.normal_(conv.weight, std=gain / math.sqrt(fan_in))
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
