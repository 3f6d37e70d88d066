"""The further units' image files, opened into ``settings.units.UnitImages`` (the command line's units)."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image

from .images import load_image, load_mask
from .settings.unit_arguments import UNIT_FLAGS, UnitPaths
from .settings.units import FIRST_MORE, IPUnitImages, StructureImages, UnitImages


def _label(unit: UnitPaths, key: str) -> str:
    return f"{UNIT_FLAGS[unit.kind]} {unit.number - FIRST_MORE[unit.kind] + 1} {key}"


def _one(unit: UnitPaths, key: str, mask: bool = False) -> Image.Image | None:
    paths = unit.paths.get(key, ())
    if not paths:
        return None
    return (load_mask if mask else load_image)(paths[0], _label(unit, key))


def load_unit_images(units: Sequence[UnitPaths]) -> UnitImages:
    """Each unit's images, in the units' order; a file that cannot be read is named by flag and key."""
    ip, controlnet, t2i = [], [], []
    for unit in units:
        if unit.kind == "ip":
            ip.append(IPUnitImages(
                references=tuple(load_image(path, _label(unit, "reference")) for path in unit.paths.get("reference", ())),
                masks=tuple(load_mask(path, _label(unit, "mask")) for path in unit.paths.get("mask", ())),
                negative=_one(unit, "negative"),
            ))  # fmt: skip
        else:
            images = StructureImages(_one(unit, "image"), _one(unit, "map"), _one(unit, "mask", mask=True))
            (controlnet if unit.kind == "controlnet" else t2i).append(images)
    return UnitImages(tuple(ip), tuple(controlnet), tuple(t2i))
