"""The extension's units beyond the first of each kind, as this app's further units (``controlnet_units``, ...).

The first IP-Adapter units are ``ip_*`` and ``ip2_*``, the first ControlNet and T2I-Adapter units share the
request's control image (``mapping``); every unit after them becomes one further unit with its own images,
up to ``IPA_MAX_UNITS`` of a kind: ``weight``, ``guidance_start``/``guidance_end`` (a T2I unit acts from
the first step: its ``guidance_end`` is its factor), the model's kind or variant, ``advanced_weighting``
(IP-Adapter), ``effective_region_mask`` (an IP unit's region for each of its references). Canny thresholds
and guess mode ("ControlNet is more important") are one for the request: a further unit that asks for
others is refused, naming it; soft injection (``control_mode`` 1, and 2 for a ControlNet) is each unit's own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..settings.units import FIRST_MORE, unit_field
from .errors import bad_field
from .images import EncodedImage
from .units import Unit

Encode = Callable[..., EncodedImage]  # (role, field, base64 text, as_mask=False) -> the image, within its size
FIRST_OF_KIND = {"ip": FIRST_MORE["ip"] - 1, "controlnet": FIRST_MORE["controlnet"] - 1, "t2i": FIRST_MORE["t2i"] - 1}


def split_units(units: Sequence[Unit]) -> tuple[list[Unit], list[Unit]]:
    """(the units the first settings hold, the further ones), each in the request's order."""
    first: list[Unit] = []
    more: list[Unit] = []
    seen: dict[str, int] = {}
    for unit in units:
        seen[unit.role] = seen.get(unit.role, 0) + 1
        (more if seen[unit.role] > FIRST_OF_KIND.get(unit.role, 1) else first).append(unit)
    return first, more


def _threshold_kept(unit: Unit, values: dict[str, Any]) -> None:
    for name, given, ours in (("threshold_a", unit.threshold_a, "canny_low"), ("threshold_b", unit.threshold_b, "canny_high")):
        if unit.kind == "canny" and given not in (-1, None) and given != values[ours]:
            raise bad_field(unit.at(name), f"the request's canny units share one {name} here ({values[ours]}); "
                            f"send the same, or -1")  # fmt: skip


def more_units(more: Sequence[Unit], values: dict[str, Any], names: dict[str, str], encode: Encode) -> list[EncodedImage]:
    """Write the further units into ``values`` (``ip_units``, ...), their client fields into ``names``; their images."""
    encoded: list[EncodedImage] = []
    counts = dict(FIRST_MORE)
    for unit in more:
        number = counts[unit.role]  # type: ignore[index]
        counts[unit.role] += 1  # type: ignore[index]
        field = unit_field(unit.role, number)  # type: ignore[arg-type]
        names[field] = unit.field
        if unit.role == "ip":
            item: dict[str, Any] = {"variant": unit.kind, "scale": unit.weight, "start": unit.start, "end": unit.end}
            if unit.layer_weights is not None:
                item["weights"] = list(unit.layer_weights)
            encoded += [encode(f"{field}.references", image.field, image.text) for image in unit.images]
            if unit.region is not None:
                region = encode(f"{field}.masks", unit.region.field, unit.region.text, as_mask=True)
                encoded += [region] * len(unit.images)
            names.update({f"{field}.references": unit.at("image"), f"{field}.masks": unit.at("effective_region_mask")})
        else:
            if unit.role == "controlnet" and unit.guess_mode != values["guess_mode"]:
                raise bad_field(unit.at("control_mode"), "'ControlNet is more important' is one switch for the "
                                "request here: every ControlNet unit sends it, or none")  # fmt: skip
            _threshold_kept(unit, values)
            item = {"kind": unit.kind, "scale": unit.weight}
            if unit.role == "controlnet":
                item.update(start=unit.start, end=unit.end, soft=unit.soft)
            elif unit.start not in (0, 0.0):
                raise bad_field(unit.at("guidance_start"), "a T2I-Adapter acts from the first step here: send 0")
            else:
                item.update(factor=unit.end, soft=unit.soft)
            part = "map" if unit.is_map else "image"
            encoded += [encode(f"{field}.{part}", image.field, image.text) for image in unit.images]
            names[f"{field}.{part}"] = unit.at("image")
        values.setdefault(f"{unit.role}_units", []).append(item)
    return encoded


def further_structure_roles(more: Sequence[Unit]) -> list[tuple[Unit, str]]:
    """Each further ControlNet / T2I unit with the name its image goes by (``controlnet_unit_2.map``)."""
    found, counts = [], dict(FIRST_MORE)
    for unit in more:
        number = counts[unit.role]  # type: ignore[index]
        counts[unit.role] += 1  # type: ignore[index]
        if unit.role in ("controlnet", "t2i"):
            role = unit_field(unit.role, number, "map" if unit.is_map else "image")  # type: ignore[arg-type]
            found.append((unit, role))
    return found


def map_names(units: Sequence[Unit], wanted: Sequence[Unit]) -> tuple[str, ...]:
    """The names the engine's result gives the maps of ``wanted`` (structure units of ``units``): a first
    unit's map by its kind ("canny"), a further unit's as ``controlnet_unit_2-depth``."""
    first, more = split_units(units)
    names: dict[int, str] = {id(unit): unit.kind for unit in first}
    counts = dict(FIRST_MORE)
    for unit in more:
        number = counts[unit.role]  # type: ignore[index]
        counts[unit.role] += 1  # type: ignore[index]
        names[id(unit)] = f"{unit_field(unit.role, number)}-{unit.kind}"  # type: ignore[arg-type]
    return tuple(names[id(unit)] for unit in wanted)
