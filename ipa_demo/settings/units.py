"""A request's further units: their images, how errors name them, and what each needs of its images.

The first units keep their places and inputs (``ip`` with ``reference_images``, ``ip2`` with
``ip2_reference_images``, ``controlnet`` and ``t2i`` with ``control_image``). The units after them
(``GenerationSettings.more_*_units``) carry their images here, one entry per unit, in order. Every unit
has a number, counted from 1 over all units of its kind (the first IP-Adapter unit is 1, ``ip2`` is 2,
the first of ``more_ip_units`` is 3); errors name a unit as ``<kind>_unit_<number>`` and start their
reason with the key at fault (``controlnet_unit_2: scale: must be between 0 and 2, got 3``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from PIL import Image

from .checks import SettingsError
from .generation import ControlNetSettings, GenerationSettings, IPAdapterSettings, T2IAdapterSettings

UnitKind = Literal["ip", "controlnet", "t2i"]
UNIT_KINDS: dict[UnitKind, type] = {"ip": IPAdapterSettings, "controlnet": ControlNetSettings, "t2i": T2IAdapterSettings}
# The number of the first unit in ``more_<kind>_units``: the units before it have their own fields.
FIRST_MORE: dict[UnitKind, int] = {"ip": 3, "controlnet": 2, "t2i": 2}


@dataclass(frozen=True)
class IPUnitImages:
    """An IP-Adapter unit's references, and optionally one region mask per reference and a negative image."""

    references: tuple[Image.Image, ...] = ()
    masks: tuple[Image.Image, ...] = ()  # white: where that reference acts
    negative: Image.Image | None = None  # the unconditional image instead of the zero image


@dataclass(frozen=True)
class StructureImages:
    """A ControlNet or T2I-Adapter unit's picture: a photo to make its map from, or the map itself."""

    image: Image.Image | None = None  # preprocessed into the unit's kind of map (canny, depth, pose)
    map: Image.Image | None = None  # a ready map, used as it is
    mask: Image.Image | None = None  # ControlNet only: where its residuals act (white), at every feature map


@dataclass(frozen=True)
class UnitImages:
    """The images of a request's units beyond the first ones: one entry per unit of ``more_*_units``."""

    ip: tuple[IPUnitImages, ...] = ()
    controlnet: tuple[StructureImages, ...] = ()
    t2i: tuple[StructureImages, ...] = ()
    controlnet_mask: Image.Image | None = None  # the first ControlNet unit's region mask (its image: control_image)

    def count(self) -> int:
        """How many images these are, for the request's budget."""
        ip = sum(len(unit.references) + len(unit.masks) + (unit.negative is not None) for unit in self.ip)
        structure = [item for unit in (*self.controlnet, *self.t2i) for item in (unit.image, unit.map, unit.mask)]
        return ip + sum(item is not None for item in (*structure, self.controlnet_mask))


NO_UNIT_IMAGES = UnitImages()


def unit_field(kind: UnitKind, number: int, part: str = "") -> str:
    """How an error names a unit (``controlnet_unit_2``) or one of its images (``ip_unit_3.references``)."""
    return f"{kind}_unit_{number}" + (f".{part}" if part else "")


def make_unit(kind: UnitKind, number: int, values: Mapping[str, Any]) -> Any:
    """One unit's settings from its values (attribute names); an error names the unit and the key."""
    try:
        return UNIT_KINDS[kind](**values)
    except SettingsError as error:
        key = error.field.removeprefix(f"{kind}_") if error.field != kind else "kind"
        raise SettingsError(unit_field(kind, number), f"{key}: {error.reason}") from None
    except TypeError as error:  # an unknown key
        raise SettingsError(unit_field(kind, number), str(error)) from None


def _check_ip(number: int, unit: IPAdapterSettings, images: IPUnitImages) -> None:
    if not unit.is_active:
        return
    if not images.references:
        raise SettingsError(unit_field("ip", number, "references"), "this IP-Adapter unit needs a reference image")
    count = len(images.references)
    if images.masks and len(images.masks) != count:
        raise SettingsError(unit_field("ip", number, "masks"), f"needs one mask per reference ({count}), got {len(images.masks)}")
    if unit.reference_weights and len(unit.reference_weights) != count:
        raise SettingsError(
            unit_field("ip", number), f"reference-weight: needs one weight per reference image ({count}), got {len(unit.reference_weights)}"
        )


def _check_structure(kind: UnitKind, number: int, active: bool, images: StructureImages) -> None:
    if images.image is not None and images.map is not None:
        raise SettingsError(unit_field(kind, number), "give an image or a map, not both")
    if kind == "t2i" and images.mask is not None:
        raise SettingsError(unit_field(kind, number, "mask"), "a region mask is for ControlNet units only")
    if active and images.image is None and images.map is None:
        raise SettingsError(unit_field(kind, number, "image"), "this unit needs a control image or a map")


def _check_count(kind: UnitKind, units: Sequence[object], images: Sequence[object]) -> None:
    if len(units) != len(images):
        raise SettingsError(
            f"{kind}_units", f"{len(units)} further {kind} units but images for {len(images)}: give one entry per unit"
        )


def check_unit_images(settings: GenerationSettings, images: UnitImages) -> None:
    """What the further units need of their images; cheap, so callers check before loading models."""
    for kind, units, given in (
        ("ip", settings.more_ip_units, images.ip),
        ("controlnet", settings.more_controlnet_units, images.controlnet),
        ("t2i", settings.more_t2i_units, images.t2i),
    ):
        _check_count(kind, units, given)  # type: ignore[arg-type]
    for number, (ip, ip_images) in enumerate(zip(settings.more_ip_units, images.ip), start=FIRST_MORE["ip"]):
        _check_ip(number, ip, ip_images)
    more = (("controlnet", settings.more_controlnet_units, images.controlnet), ("t2i", settings.more_t2i_units, images.t2i))
    for kind, units, given in more:
        for number, (unit, unit_images) in enumerate(zip(units, given), start=FIRST_MORE[kind]):  # type: ignore[index]
            _check_structure(kind, number, unit.is_active, unit_images)  # type: ignore[arg-type]


def maps_as_given(settings: GenerationSettings, images: UnitImages) -> GenerationSettings:
    """``settings`` with each further structure unit's ``is_map`` as its images say: what ran, for the PNG
    (a caller may give a map without setting ``is_map``; the images decide how a unit's picture is used)."""
    more = {
        f"more_{kind}_units": tuple(replace(unit, is_map=given.map is not None) for unit, given in zip(units, given_images))
        for kind, units, given_images in (("controlnet", settings.more_controlnet_units, images.controlnet),
                                          ("t2i", settings.more_t2i_units, images.t2i))
    }  # fmt: skip
    return replace(settings, **more)  # type: ignore[arg-type]
