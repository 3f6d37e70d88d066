"""The further units' images in a request's values: named for errors and the budget, then made ``UnitImages``.

A unit parameter (``controlnet_units``, ...) is a list of units, each an object of unit keys
(``settings.unit_keys``) whose image keys hold uploaded files (``handle_file`` over ``gradio_client``:
``{"path": ..., "meta": {"_type": "gradio.FileData"}}``). Every image is named after its unit and key
(``controlnet_unit_2.image``), so that the budget counts it (``input_budget``) and an error names it. The
payload guard (``unit_payloads``) has checked every path before this module sees one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PIL import Image

from ..settings import GenerationSettings
from ..settings.unit_keys import IMAGE_KEYS
from ..settings.unit_names import UNIT_PARAMS
from ..settings.units import FIRST_MORE, IPUnitImages, StructureImages, UnitImages, unit_field

# The image key -> the part of ``units.unit_field`` naming it (what ``check_unit_images`` names).
IMAGE_PARTS = {"reference": "references", "mask": "mask", "negative": "negative", "image": "image", "map": "map"}
MASK_PARTS = ("masks", "mask")


def _part(kind: str, key: str) -> str:
    return "masks" if kind == "ip" and key == "mask" else IMAGE_PARTS[key]


def _path(file: Any) -> str:
    return str(file.get("path") if isinstance(file, Mapping) else file)


def unit_image_inputs(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, path) for every image of every further unit, in the units' order."""
    named: list[tuple[str, str]] = []
    for kind, param in UNIT_PARAMS.items():
        for number, unit in enumerate(values.get(param) or (), start=FIRST_MORE[kind]):  # type: ignore[index]
            if not isinstance(unit, Mapping):
                continue  # settings_from_values refuses it by name
            for key in IMAGE_KEYS[kind]:  # type: ignore[index]
                given = unit.get(key)
                files = given if isinstance(given, list) else [given] if given else []
                named += [(unit_field(kind, number, _part(kind, key)), _path(file)) for file in files]  # type: ignore[arg-type]
    return named


def is_unit_mask(name: str) -> bool:
    return name.startswith(tuple(f"{kind}_unit_" for kind in UNIT_PARAMS)) and name.rpartition(".")[2] in MASK_PARTS


def unit_images(settings: GenerationSettings, images: Mapping[str, list[Image.Image]]) -> UnitImages:
    """Each further unit's decoded images (``images``: by the names ``unit_image_inputs`` gave)."""

    def of(kind: str, number: int, part: str) -> tuple[Image.Image, ...]:
        return tuple(images.get(unit_field(kind, number, part), ()))  # type: ignore[arg-type]

    def one(kind: str, number: int, part: str) -> Image.Image | None:
        return next(iter(of(kind, number, part)), None)

    first = FIRST_MORE
    ip = tuple(
        IPUnitImages(of("ip", number, "references"), of("ip", number, "masks"), one("ip", number, "negative"))
        for number in range(first["ip"], first["ip"] + len(settings.more_ip_units))
    )
    structure = {
        kind: tuple(
            StructureImages(one(kind, number, "image"), one(kind, number, "map"), one(kind, number, "mask"))
            for number in range(first[kind], first[kind] + len(getattr(settings, f"more_{kind}_units")))  # type: ignore[index]
        )
        for kind in ("controlnet", "t2i")
    }
    return UnitImages(ip, structure["controlnet"], structure["t2i"])
