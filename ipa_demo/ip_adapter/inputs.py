"""The images a request gives IP-Adapter besides its references, and the rules between them and the settings."""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from ..cache import image_digest

NEGATIVE_KEY = "IP negative image"  # the PNG key naming the negative reference by its pixels' digest



@dataclass(frozen=True)
class MoreReferences:
    """Optional images, named as the API parameters and CLI flags that carry them."""

    negative_reference: Image.Image | None = None  # unit 1's unconditional image, instead of the zero image


NO_MORE = MoreReferences()



def png_pairs(more: MoreReferences, ip_used: bool) -> dict[str, str]:
    """What the PNG says about these images: which negative reference acted (it is not stored)."""
    if not ip_used or more.negative_reference is None:
        return {}
    return {NEGATIVE_KEY: f"sha256:{image_digest(more.negative_reference)[:16]}"}
