"""The images a request gives IP-Adapter besides its references, and the rules between them and the settings.

Region masks travel inline in the PNG's parameters (``IP masks``: each the base64 of a 1-bit PNG of
the mask as it acted, at the output size, separated by spaces); the negative image is only named by
its digest (``IP negative image``), as the references themselves are not stored either.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from PIL import Image

from ..cache import image_digest
from ..images import ImageInputError, load_mask
from ..settings import GenerationSettings, SettingsError
from .regions import binary_masks, mask_text

NEGATIVE_KEY = "IP negative image"  # names the negative reference by its pixels' digest
MASKS_KEY = "IP masks"


@dataclass(frozen=True)
class MoreReferences:
    """Optional images, named as the API parameters and CLI flags that carry them."""

    negative_reference: Image.Image | None = None  # unit 1's unconditional image, instead of the zero image
    reference_masks: tuple[Image.Image, ...] = ()  # unit 1's regions: one per reference, white = acts


NO_MORE = MoreReferences()


def check_more_references(settings: GenerationSettings, references: Sequence[object], more: MoreReferences) -> None:
    """What the extra images need from the references; cheap, so checked before any model runs."""
    masks = more.reference_masks
    if masks and settings.ip.is_active and len(masks) != len(references):
        raise SettingsError(
            "reference_masks", f"needs one mask per reference image ({len(references)}), got {len(masks)}"
        )


def png_pairs(settings: GenerationSettings, more: MoreReferences, ip_used: bool) -> dict[str, str]:
    """What the PNG says about these images: the masks as they acted, which negative reference acted."""
    pairs: dict[str, str] = {}
    if not ip_used:
        return pairs
    if more.reference_masks:
        masks = binary_masks(more.reference_masks, settings.height, settings.width)
        pairs[MASKS_KEY] = " ".join(mask_text(mask) for mask in masks)
    if more.negative_reference is not None:
        pairs[NEGATIVE_KEY] = f"sha256:{image_digest(more.negative_reference)[:16]}"
    return pairs


def masks_from_pairs(pairs: Mapping[str, str]) -> tuple[Image.Image, ...]:
    """The region masks a PNG's parameters carry (none if it has none)."""
    try:
        return tuple(
            load_mask(io.BytesIO(base64.b64decode(item, validate=True)), MASKS_KEY)
            for item in pairs.get(MASKS_KEY, "").split()
        )
    except (binascii.Error, ImageInputError) as error:
        raise SettingsError("reference_masks", f"the PNG's {MASKS_KEY} cannot be read ({error})") from None
