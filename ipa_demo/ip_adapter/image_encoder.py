"""CLIP encodings of reference images, computed once per image and reused.

Changing λ, the mask, the seed or the prompt must not re-run the image encoder (335 GFLOP for
ViT-H): encodings are cached by the image's pixels, the fit mode and the kind of output.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image, ImageOps
from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

from ..cache import LRUCache, image_digest

# Padding a non-square reference with CLIP's mean colour makes the pad normalise to zero,
# i.e. it carries as little content as a pixel can.
_CLIP_MEAN_RGB = tuple(round(channel * 255) for channel in CLIPImageProcessor().image_mean)


# CLIP sees 224x224; a padded canvas larger than this is shrunk first, so that a long thin image
# cannot ask for a canvas of its long side squared (an 8x5,000,000 strip: 25 terapixels).
MAX_PAD_SIDE = 2048


def fit_square(image: Image.Image, fit: str) -> Image.Image:
    """Make a reference square: "crop" keeps the centre (CLIP's own behaviour), "pad" keeps everything."""
    if fit == "crop" or image.width == image.height:
        return image  # CLIPImageProcessor resizes the short side and centre-crops
    side = min(max(image.size), MAX_PAD_SIDE)
    return ImageOps.pad(image, (side, side), color=_CLIP_MEAN_RGB)


@dataclass(frozen=True)
class ImageEncoding:
    """A conditional/unconditional pair, each (1, embed) or (1, tokens, hidden)."""

    positive: torch.Tensor
    negative: torch.Tensor


class ImageEncoder:
    def __init__(self, encoder: CLIPVisionModelWithProjection, device: torch.device, cache_size: int = 32) -> None:
        self.encoder = encoder
        self.device = device  # where inputs go; under offload the encoder itself may be parked elsewhere
        size = encoder.config.image_size
        # The same preprocessing diffusers' load_ip_adapter sets up for this encoder.
        self.processor = CLIPImageProcessor(size=size, crop_size=size)
        self.encoder_runs = 0  # counted so tests can prove the cache works
        self._cache: LRUCache[torch.Tensor] = LRUCache(cache_size)
        self._negative_hidden: torch.Tensor | None = None

    def encode(
        self, images: list[Image.Image], fit: str, hidden_states: bool, negative: Image.Image | None = None
    ) -> ImageEncoding:
        """Several references are averaged into one encoding; ``negative`` replaces the zero image."""
        encodings = [self.encode_one(image, fit, hidden_states) for image in images]
        positive = torch.stack(encodings).mean(dim=0) if len(encodings) > 1 else encodings[0]
        return ImageEncoding(positive, self.negative(positive, hidden_states, fit, negative))

    def encode_one(self, image: Image.Image, fit: str, hidden_states: bool) -> torch.Tensor:
        """One reference's encoding, (1, embed) or (1, tokens, hidden), from the cache when it was seen."""
        def encode() -> torch.Tensor:
            pixels = self.processor(fit_square(image.convert("RGB"), fit), return_tensors="pt").pixel_values
            return self._run(pixels, hidden_states)

        return self._cache.get_or_make((image_digest(image), fit, hidden_states), encode)

    def negative(
        self, positive: torch.Tensor, hidden_states: bool, fit: str, image: Image.Image | None = None
    ) -> torch.Tensor:
        """The unconditional side: the encoding of ``image`` when given (a negative reference), else
        zero embeds for base/light and, for plus variants, the hidden states of an all-zero image."""
        if image is not None:
            return self.encode_one(image, fit, hidden_states)
        if not hidden_states:
            return torch.zeros_like(positive)
        if self._negative_hidden is None:
            size = self.encoder.config.image_size
            self._negative_hidden = self._run(torch.zeros(1, 3, size, size), hidden_states=True)
        return self._negative_hidden

    @torch.no_grad()
    def _run(self, pixels: torch.Tensor, hidden_states: bool) -> torch.Tensor:
        self.encoder_runs += 1
        pixels = pixels.to(self.device, self.encoder.dtype)
        if hidden_states:
            return self.encoder(pixels, output_hidden_states=True).hidden_states[-2]
        return self.encoder(pixels).image_embeds
