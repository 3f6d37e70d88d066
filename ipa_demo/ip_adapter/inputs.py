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
from ..images import ImageInputError, load_mask, read_size
from ..settings import GenerationSettings, IPAdapterSettings, Limits, SettingsError
from ..settings.units import FIRST_MORE, NO_UNIT_IMAGES, UnitImages, unit_field

NEGATIVE_KEY = "IP negative image"  # names the negative reference by its pixels' digest
MASKS_KEY = "IP masks"


@dataclass(frozen=True)
class MoreReferences:
    """Optional images, named as the API parameters and CLI flags that carry them."""

    negative_reference: Image.Image | None = None  # unit 1's unconditional image, instead of the zero image
    reference_masks: tuple[Image.Image, ...] = ()  # unit 1's regions: one per reference, white = acts
    ip2_references: tuple[Image.Image, ...] = ()  # the second unit's references
    ip2_masks: tuple[Image.Image, ...] = ()  # its regions: one per reference of it


NO_MORE = MoreReferences()


@dataclass(frozen=True)
class UnitRequest:
    """One adapter unit of a request: its settings, its images, and how errors and the PNG name them."""

    settings: IPAdapterSettings
    references: tuple[Image.Image, ...]
    masks: tuple[Image.Image, ...] = ()
    negative: Image.Image | None = None
    references_field: str = "reference_images"
    masks_field: str = "reference_masks"
    png_prefix: str = "IP"
    settings_field: str = "ip"  # how errors about its settings name it: "ip", "ip2" or a further unit's field

    @property
    def masks_key(self) -> str:
        return f"{self.png_prefix} masks"


def unit_requests(
    settings: GenerationSettings,
    references: Sequence[Image.Image],
    more: MoreReferences,
    images: UnitImages = NO_UNIT_IMAGES,
) -> tuple[UnitRequest, ...]:
    """The request's adapter units in the order they act: ``ip``, ``ip2``, then ``more_ip_units`` with their
    images (``settings.units.check_unit_images`` holds those to one entry per unit)."""
    further = (
        UnitRequest(unit, given.references, given.masks, given.negative, unit_field("ip", number, "references"),
                    unit_field("ip", number, "masks"), f"IP{number}", unit_field("ip", number))
        for number, (unit, given) in enumerate(zip(settings.more_ip_units, images.ip), start=FIRST_MORE["ip"])
    )  # fmt: skip
    return (
        UnitRequest(settings.ip, tuple(references), more.reference_masks, more.negative_reference),
        UnitRequest(
            settings.ip2, more.ip2_references, more.ip2_masks, None, "ip2_reference_images", "ip2_masks", "IP2", "ip2"
        ),
        *further,
    )


def check_more_references(
    settings: GenerationSettings, references: Sequence[Image.Image], more: MoreReferences
) -> None:
    """What each acting unit needs of its images; cheap, so checked before any model runs."""
    for unit in unit_requests(settings, references, more):
        if not unit.settings.is_active:
            continue
        if not unit.references:
            raise SettingsError(unit.references_field, "this IP-Adapter needs a reference image (or set its λ to 0)")
        if unit.masks and len(unit.masks) != len(unit.references):
            raise SettingsError(
                unit.masks_field, f"needs one mask per reference image ({len(unit.references)}), got {len(unit.masks)}"
            )


def png_pairs(
    settings: GenerationSettings, units: Sequence[UnitRequest], used: Sequence[bool]
) -> dict[str, str]:
    """What the PNG says about the units' images: the masks as they acted, which negative reference acted."""
    from .regions import binary_masks, mask_text  # torch: the CLI's and the request checks' imports stay light

    pairs: dict[str, str] = {}
    for unit, acted in zip(units, used, strict=True):
        if acted and unit.masks:
            masks = binary_masks(unit.masks, settings.height, settings.width)
            pairs[unit.masks_key] = " ".join(mask_text(mask) for mask in masks)
        if acted and unit.negative is not None:
            pairs[NEGATIVE_KEY] = f"sha256:{image_digest(unit.negative)[:16]}"
    return pairs


def masks_from_pairs(
    pairs: Mapping[str, str],
    key: str = MASKS_KEY,
    field: str = "reference_masks",
    limits: Limits | None = None,
) -> tuple[Image.Image, ...]:
    """The region masks a PNG's parameters carry under ``key`` (none if it has none); errors name ``field``.

    A PNG is user input: at most ``limits.max_references`` masks, each no larger than the largest image
    this server makes, checked from their headers before any is decoded (a blank 1-bit PNG of 40 MP
    is a few kilobytes of text).
    """
    limits = limits or Limits()
    items = pairs.get(key, "").split()
    if len(items) > limits.max_references:
        raise SettingsError(field, f"the PNG's {key} holds {len(items)} masks; at most {limits.max_references}")
    try:
        files = [base64.b64decode(item, validate=True) for item in items]
        for data in files:
            width, height = read_size(io.BytesIO(data), key)
            if max(width, height) > limits.max_side:
                raise ImageInputError(f"a mask is {width}x{height}, larger than {limits.max_side} on a side")
        return tuple(load_mask(io.BytesIO(data), key) for data in files)
    except (binascii.Error, ImageInputError) as error:
        raise SettingsError(field, f"the PNG's {key} cannot be read ({error})") from None
