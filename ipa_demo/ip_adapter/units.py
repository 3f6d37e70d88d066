"""One adapter unit of a request, from its settings and images to its ``ImagePrompt``.

References of weight 0 (and their masks) are left out before anything is encoded, so that such a
reference is exactly the same as none. With region masks the references attend one by one. The
encodings come from the encoder's per-image cache: changing weights, masks, the combine mode or λ
re-encodes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..architecture import Architecture
from ..conditioner import BatchLayout
from .conditioner import ImagePrompt
from .image_encoder import ImageEncoder
from .injection import InjectionRecorder
from .inputs import UnitRequest
from .model_layers import unit_layer_scales
from .regions import Regions, binary_masks, layer_sizes
from .weights import IPAdapterWeights


@dataclass(frozen=True)
class OutputSize:
    """What region masks are shrunk for: the image size, the model's layout and VAE factor, where the UNet runs."""

    height: int
    width: int
    architecture: Architecture
    device: torch.device


def weighted_mean(encodings: Sequence[torch.Tensor], weights: Sequence[float]) -> torch.Tensor:
    """The references' mean encoding; equal weights give the plain mean (what one weight for all means)."""
    stacked = torch.stack(list(encodings))
    if len(set(weights)) <= 1:
        return stacked.mean(dim=0)
    shares = torch.tensor(weights, dtype=stacked.dtype, device=stacked.device) / sum(weights)
    return (stacked * shares.view(-1, *(1,) * (stacked.ndim - 1))).sum(dim=0)


def prepare_unit(
    weights: IPAdapterWeights,
    encoder: ImageEncoder,
    unit: UnitRequest,
    output: OutputSize,
    layout: BatchLayout,
    recorder: InjectionRecorder | None = None,
) -> ImagePrompt | None:
    """The unit's conditioner, or None when no reference of it acts. Its masks: none, or one per reference."""
    settings, references, negative, masks = unit.settings, unit.references, unit.negative, unit.masks
    reference_weights = settings.reference_weights or (1.0,) * len(references)
    kept = [index for index, weight in enumerate(reference_weights) if weight > 0.0]
    if not settings.is_active or not kept:
        return None
    scales = unit_layer_scales(settings, output.architecture, unit.settings_field)  # refused before any encoding
    hidden_states = weights.uses_hidden_states
    encodings = [encoder.encode_one(references[index], settings.fit, hidden_states) for index in kept]
    unconditional = encoder.negative(encodings[0], hidden_states, settings.fit, negative)
    slot_weights = tuple(reference_weights[index] for index in kept)
    regions = None
    if masks:
        binary = binary_masks([masks[index] for index in kept], output.height, output.width)
        sizes = layer_sizes(output.height, output.width, output.architecture)
        regions = Regions.prepare(binary, slot_weights, sizes, output.device)
        positive = torch.cat(encodings)
    elif settings.combine == "concat":
        positive = torch.cat(encodings)
    else:
        positive, slot_weights = weighted_mean(encodings, slot_weights), None
    return ImagePrompt.prepare(
        weights, positive, unconditional, settings, num_images=layout.num_images, guided=layout.guided,
        slot_weights=None if regions is not None else slot_weights, regions=regions, recorder=recorder,
        layer_scales=scales.modules, block_scales=scales.blocks,
    )  # fmt: skip
