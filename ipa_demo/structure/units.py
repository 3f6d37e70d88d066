"""A request's ControlNet and T2I-Adapter units that act, each with its picture, in the order they act."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from PIL import Image

from ..settings import ControlNetSettings, GenerationSettings, T2IAdapterSettings
from ..settings.units import FIRST_MORE, StructureImages, UnitImages, unit_field

StructureKind = Literal["controlnet", "t2i"]


@dataclass(frozen=True)
class StructureUnit:
    """One acting unit: its settings, its picture (a photo to make its map from, or the map), its region."""

    kind: StructureKind
    number: int  # counted from 1 over the units of its kind
    settings: ControlNetSettings | T2IAdapterSettings
    image: Image.Image
    is_map: bool
    region: Image.Image | None = None

    @property
    def map_name(self) -> str:
        """The name its map goes by in a result: the map's kind for the first units, as before."""
        return self.settings.kind if self.number == 1 else f"{unit_field(self.kind, self.number)}-{self.settings.kind}"


def _further(kind: StructureKind, units: tuple[ControlNetSettings | T2IAdapterSettings, ...],
             images: tuple[StructureImages, ...]) -> list[StructureUnit]:  # fmt: skip
    acting = []
    for number, (unit, given) in enumerate(zip(units, images, strict=True), start=FIRST_MORE[kind]):
        picture = given.map if given.map is not None else given.image
        if unit.is_active and picture is not None:
            acting.append(StructureUnit(kind, number, unit, picture, given.map is not None, given.mask))
    return acting


def structure_units(
    settings: GenerationSettings, control_image: Image.Image | None, images: UnitImages
) -> list[StructureUnit]:
    """The acting units: every ControlNet (first, then the further ones), then every T2I-Adapter."""
    first: dict[StructureKind, list[StructureUnit]] = {"controlnet": [], "t2i": []}
    if control_image is not None:
        is_map = settings.control_is_map
        if settings.controlnet.is_active:
            first["controlnet"].append(
                StructureUnit("controlnet", 1, settings.controlnet, control_image, is_map, images.controlnet_mask)
            )
        if settings.t2i.is_active:
            first["t2i"].append(StructureUnit("t2i", 1, settings.t2i, control_image, is_map))
    return [
        *first["controlnet"],
        *_further("controlnet", settings.more_controlnet_units, images.controlnet),
        *first["t2i"],
        *_further("t2i", settings.more_t2i_units, images.t2i),
    ]
