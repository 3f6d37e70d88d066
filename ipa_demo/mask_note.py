"""An inpainting mask as A1111 treats it (``Mask blur``), and as the PNG's ``parameters`` text notes it.

A1111 blurs the mask by ``mask_blur`` pixels (a Gaussian of that radius) before inpainting and writes
``Mask blur: 4`` in the text. The engine reads the blurred mask as diffusers' inpainting pipeline does,
binarized at half grey (the blur only rounds its corners there); the soft edge acts afterwards, as in
A1111, when the result is pasted back over the init image (``pasted_back``): outside the mask the picture
is the init image's own pixels, and the seam fades. For "Whole picture" A1111 pastes through the blurred
mask doubled and clipped at white (``overlay_mask``): where the engine repainted (grey at least half
white) nothing of the old picture shows through, and the fade lies outside that. ``Mask digest`` is ours: which mask was used, as the first 12 hex digits of a SHA-256 over its
size and its 8-bit grey pixels, after blur and inversion, exactly as the engine got it. Both pairs
are plain ``Key: value`` pairs that every reader of the text (ours, A1111's) reads or skips.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from PIL import Image, ImageFilter

from .structure.control_maps import fit_to_size

Result = TypeVar("Result")
MASK_BLUR_KEY = "Mask blur"
MASK_DIGEST_KEY = "Mask digest"
DOUBLED_CLIPPED = [min(2 * grey, 255) for grey in range(256)]
MAX_MASK_BLUR = 64  # pixels: A1111's slider's maximum
DEFAULT_MASK_BLUR = 4  # A1111's default
DIGEST_DIGITS = 12


def check_mask_blur(value: object, name: str) -> int:
    """``value`` as a whole number of pixels from 0 to ``MAX_MASK_BLUR``; otherwise ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ValueError(f"{name} must be a whole number of pixels, got {value!r}"[:200])
    if not 0 <= value <= MAX_MASK_BLUR:
        raise ValueError(f"{name} must be 0 to {MAX_MASK_BLUR} pixels, got {value:g}")
    return int(value)


def mask_blur_of(pairs: Mapping[str, str]) -> int | None:
    """A text's ``Mask blur`` (an inpainting run's), None when it has none; ``ValueError`` when not 0 to 64."""
    text = pairs.get(MASK_BLUR_KEY)
    if text is None:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError(f"{MASK_BLUR_KEY} must be a whole number of pixels, got {text[:40]!r}") from None
    return check_mask_blur(value, MASK_BLUR_KEY)


def blurred_mask(mask: Image.Image, blur: int) -> Image.Image:
    """The mask in grey (white: repaint), blurred by ``blur`` pixels as A1111 does; RGB as the engine takes it."""
    grey = mask.convert("L")
    if blur:
        grey = grey.filter(ImageFilter.GaussianBlur(blur))
    return grey.convert("RGB")


def pasted_back(generated: Image.Image, init: Image.Image, mask: Image.Image) -> Image.Image:
    """A1111's overlay: ``generated`` where ``mask`` is white, ``init`` where black, blended between
    (``init`` and ``mask`` fitted to ``generated``'s size as the engine fitted them)."""
    return Image.composite(generated.convert("RGB"), init.convert("RGB"), mask.convert("L"))


def overlay_mask(mask: Image.Image) -> Image.Image:
    """A1111's overlay mask for "Whole picture": the blurred ``mask``'s grey doubled, clipped at white."""
    return mask.convert("L").point(DOUBLED_CLIPPED)


def pasted_over(images: Sequence[Image.Image], init: Image.Image, mask: Image.Image) -> list[Image.Image]:
    """Each generated image pasted back over ``init`` as A1111 pastes "Whole picture": ``init`` and the
    blurred ``mask`` fitted to the images' size as the engine fitted them (``fit_to_size``), then through
    ``overlay_mask``."""
    if not images:
        return []
    size = images[0].size
    init, overlay = fit_to_size(init, *size), overlay_mask(fit_to_size(mask, *size))
    return [pasted_back(image, init, overlay) for image in images]


def mask_digest(mask: Image.Image) -> str:
    grey = mask.convert("L")
    digest = hashlib.sha256(f"{grey.width}x{grey.height}\n".encode())
    digest.update(grey.tobytes())
    return digest.hexdigest()[:DIGEST_DIGITS]


def mask_pairs(mask: Image.Image, blur: int) -> dict[str, str]:
    """The text's pairs for ``mask`` (as the engine got it) and the blur that made it."""
    return {MASK_BLUR_KEY: str(blur), MASK_DIGEST_KEY: mask_digest(mask)}


def with_mask_note(text: str, pairs: dict[str, str]) -> str:
    """``text`` (a ``parameters`` text, whose last line holds its pairs) with ``pairs`` added to that line."""
    added = ", ".join(f"{key}: {value}" for key, value in pairs.items())
    return f"{text}, {added}" if text else added


def with_mask_notes(result: Result, pairs: dict[str, str]) -> Result:
    """An engine result (a dataclass with ``parameters``) whose texts carry ``pairs`` (none: unchanged)."""
    if not pairs:
        return result
    texts: Any = [with_mask_note(text, pairs) for text in result.parameters]  # type: ignore[attr-defined]
    return replace(result, parameters=texts)  # type: ignore[type-var]
