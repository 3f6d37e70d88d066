"""The extra UNet input of a 9-channel inpainting model (diffusers/stable-diffusion-xl-1.0-inpainting-0.1):
the mask at latent size and the latents of the image with the masked part blanked, beside the noisy
latents at every step, prepared as diffusers' ``StableDiffusionXLInpaintPipeline`` prepares them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import AutoencoderKL
from diffusers.image_processor import VaeImageProcessor
from PIL import Image

INPAINTING_CHANNELS = 9  # latents 4, mask 1, masked-image latents 4


@dataclass(frozen=True)
class InpaintInput:
    image: Image.Image
    mask: Image.Image  # white: repaint, black: keep


@torch.no_grad()
def inpainting_channels(
    vae: AutoencoderKL, inpaint: InpaintInput, generators: list[torch.Generator], guided: bool
) -> torch.Tensor:
    """(rows, 5, h/8, w/8): the binarised mask and the masked image's latents, batched like the UNet input.

    The masked image is encoded once, its latents drawn with the first image's generator and shared by
    every image, as diffusers does (after the starting noise, so each image's noise stays its own).
    """
    scale = 2 ** (len(vae.config.block_out_channels) - 1)
    height, width = inpaint.image.height, inpaint.image.width
    pixels = VaeImageProcessor(vae_scale_factor=scale).preprocess(inpaint.image, height, width)
    masks = VaeImageProcessor(vae_scale_factor=scale, do_normalize=False, do_binarize=True, do_convert_grayscale=True)
    mask = masks.preprocess(inpaint.mask, height, width)
    masked = (pixels * (mask < 0.5)).to(vae.device, vae.dtype)
    latents = vae.encode(masked).latent_dist.sample(generators[0]) * vae.config.scaling_factor
    small_mask = torch.nn.functional.interpolate(mask, size=(height // scale, width // scale)).to(latents)
    rows = len(generators)
    channels = torch.cat([small_mask.repeat(rows, 1, 1, 1), latents.repeat(rows, 1, 1, 1)], dim=1)
    return torch.cat([channels] * 2) if guided else channels
