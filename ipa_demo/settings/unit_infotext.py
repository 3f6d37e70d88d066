"""Units in a PNG's text as the A1111 ControlNet extension writes them, so that its PNG Info restores them.

The extension writes each enabled unit as one key, ``ControlNet <i>: "Module: canny, Model:
control_v11p_sd15_canny [hash], Weight: 1, Resize Mode: Crop and Resize, Threshold A: 100, Threshold
B: 200, Guidance Start: 0, Guidance End: 1, Control Mode: Balanced"``: items split on ", " and each on
": ", so no value holds either. Every unit that acted is written so (ControlNet units, then T2I-Adapter
units, then IP-Adapter units; the extension runs all three kinds as its units), with what the extension
ignores beside its own fields: ``Unit: controlnet 2`` (which of our units it is), ``Soft`` (a ControlNet
or T2I-Adapter unit's soft injection, which its Control Mode names too, but not alone under diffusers'
guess mode) and, for IP-Adapter units, ``IP Layers``, ``IP Stages``, ``IP Weights``, ``IP Reference
Weights``, ``IP Combine`` (the window is Guidance Start/End, the fit the Resize Mode). A structure unit
given a ready map is ``Module: none``, as the extension writes a unit without preprocessor, and reads
back as a map (``is-map``). The first units keep their own keys too (``ControlNet: canny``, ``IP scale``,
...), which is how they are read back: entries of units 1 (and 2 for IP-Adapter) are for A1111, and an
entry without ``Unit`` (one A1111 wrote) is not ours to read, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..models.control_names import control_model, model_by_title
from .checks import SettingsError, shown
from .generation import ControlNetSettings, GenerationSettings, IPAdapterSettings, T2IAdapterSettings
from .unit_keys import MAP_KEY, STAGE_NAMES, read_unit
from .units import FIRST_MORE, UnitKind

ENTRY = "ControlNet "
IP_MODULE = "ip-adapter_clip_sd15"
MAP_MODULES = {"canny": "canny", "depth": "depth_midas", "openpose": "openpose"}
FITS = {"crop": "Crop and Resize", "pad": "Resize and Fill"}
# (the request's guess mode, the unit's soft injection) -> the extension's name; guess mode alone is
# diffusers' (its own factors), the nearest of the extension's modes
CONTROL_MODES = {
    (False, False): "Balanced",
    (False, True): "My prompt is more important",
    (True, True): "ControlNet is more important",
    (True, False): "ControlNet is more important",
}
MAX_PNG_UNITS = 64  # of each kind; the server's own cap (IPA_MAX_UNITS) is checked where a request runs


def _number(value: float) -> str:
    text = f"{value:g}"
    return text if float(text) == value else repr(value)


def _numbers(values: tuple[float, ...]) -> str:
    return " ".join(_number(value) for value in values)


def _structure_entry(kind: UnitKind, number: int, unit: ControlNetSettings | T2IAdapterSettings,
                     settings: GenerationSettings) -> dict[str, str]:  # fmt: skip
    is_map = settings.control_is_map if number == 1 else unit.is_map
    entry = {
        "Module": "none" if is_map else MAP_MODULES.get(unit.kind, unit.kind),
        "Model": control_model(kind, unit.kind).title if unit.kind != "none" else "None",
        "Weight": _number(unit.scale),
        "Resize Mode": FITS["crop"],
    }
    if unit.kind == "canny" and not is_map:
        entry.update({"Threshold A": str(settings.canny_low), "Threshold B": str(settings.canny_high)})
    if isinstance(unit, ControlNetSettings):
        entry.update({"Guidance Start": _number(unit.start), "Guidance End": _number(unit.end)})
        entry["Control Mode"] = CONTROL_MODES[(settings.guess_mode, unit.soft)]
        return {**entry, "Unit": f"{kind} {number}", "Soft": str(unit.soft).lower()}  # ours: exact under guess mode
    entry.update({"Guidance Start": "0", "Guidance End": _number(unit.factor),
                  "Control Mode": CONTROL_MODES[(False, unit.soft)]})  # fmt: skip
    return {**entry, "Unit": f"{kind} {number}", "Soft": str(unit.soft).lower()}


def _ip_entry(number: int, unit: IPAdapterSettings) -> dict[str, str]:
    entry = {
        "Module": IP_MODULE, "Model": control_model("ip", unit.variant).title, "Weight": _number(unit.scale),
        "Resize Mode": FITS[unit.fit], "Guidance Start": _number(unit.start), "Guidance End": _number(unit.end),
        "Control Mode": "Balanced", "Unit": f"ip {number}", "IP Layers": unit.mask,
        "IP Stages": " ".join(f"{name}={_number(weight)}" for name, weight in zip(STAGE_NAMES, unit.stage_weights)),
    }  # fmt: skip
    if unit.layer_weights:
        entry["IP Weights"] = _numbers(unit.layer_weights)
    if unit.reference_weights:
        entry["IP Reference Weights"] = _numbers(unit.reference_weights)
    return {**entry, "IP Combine": unit.combine}


def unit_entries(settings: GenerationSettings, *, ip_used: bool, ip2_used: bool) -> dict[str, str]:
    """``ControlNet <i>`` -> the entry of each unit: the first ones when they acted (for the first IP units, as
    ``ip_used``/``ip2_used`` say), the further ones always (their numbers stay in order)."""
    entries: list[dict[str, str]] = []
    for kind, units in (("controlnet", settings.controlnet_units), ("t2i", settings.t2i_units)):
        entries += [_structure_entry(kind, number, unit, settings)  # type: ignore[arg-type]
                    for number, unit in enumerate(units, start=1) if unit.is_active or number > 1]  # fmt: skip
    acted = [ip_used, ip2_used, *(True for _ in settings.more_ip_units)]  # further units: always, as given
    entries += [_ip_entry(number, unit) for number, (unit, used) in
                enumerate(zip((settings.ip, settings.ip2, *settings.more_ip_units), acted), start=1) if used]  # fmt: skip
    return {f"{ENTRY}{index}": ", ".join(f"{key}: {value}" for key, value in entry.items()) for index, entry in enumerate(entries)}


def _read_entry(text: str) -> dict[str, str]:
    items: dict[str, str] = {}
    for item in text.split(", "):
        key, sep, value = item.partition(": ")
        if sep:
            items[key.strip()] = value.strip()
    return items


def _unit_values(kind: UnitKind, items: Mapping[str, str], where: str) -> dict[str, Any]:
    if kind != "ip" and items.get("Model") == "None":
        return {"kind": "none"}
    model = model_by_title(items.get("Model", ""))
    if model is None or model.role != kind:
        raise SettingsError(where, f"Model: {shown(items.get('Model', ''))} is not a {kind} model this app has")
    values: dict[str, Any] = {"variant" if kind == "ip" else "kind": model.kind}
    if kind != "ip" and items.get("Module") == "none":  # the extension's word for a ready map
        values[MAP_KEY] = "true"
    if "Weight" in items:
        values["scale"] = items["Weight"]
    if kind != "ip" and "Soft" in items:
        values["soft"] = items["Soft"]
    if kind == "t2i":
        if "Guidance End" in items:
            values["factor"] = items["Guidance End"]
    else:
        values.update({key: items[name] for key, name in (("start", "Guidance Start"), ("end", "Guidance End")) if name in items})
    if kind != "ip":
        return values
    fits = {text: name for name, text in FITS.items()}
    if items.get("Resize Mode") in fits:
        values["fit"] = fits[items["Resize Mode"]]
    for key, name in (("layers", "IP Layers"), ("weights", "IP Weights"), ("reference-weight", "IP Reference Weights"),
                      ("combine", "IP Combine")):  # fmt: skip
        if name in items:
            values[key] = items[name]
    for part in items.get("IP Stages", "").split():
        stage, _, weight = part.partition("=")
        values[f"stage-{stage}"] = weight
    return values


def _ours(pairs: Mapping[str, str]) -> dict[UnitKind, dict[int, dict[str, str]]]:
    """Our entries by kind and unit number (those A1111 wrote have no ``Unit``)."""
    found: dict[UnitKind, dict[int, dict[str, str]]] = {"ip": {}, "controlnet": {}, "t2i": {}}
    for key, text in pairs.items():
        if not key.startswith(ENTRY):
            continue
        items = _read_entry(text)
        kind, _, number = items.get("Unit", "").partition(" ")
        if kind in found and number.isdigit() and len(number) <= 3:
            found[kind][int(number)] = items  # type: ignore[index]
    return found


def units_from_entries(pairs: Mapping[str, str]) -> dict[str, tuple[Any, ...]]:
    """``more_<kind>_units`` from a PNG's entries; the first units are read from their own keys."""
    more: dict[str, tuple[Any, ...]] = {}
    for kind, entries in _ours(pairs).items():
        numbers = sorted(number for number in entries if number >= FIRST_MORE[kind])
        expected = list(range(FIRST_MORE[kind], FIRST_MORE[kind] + len(numbers)))
        if numbers != expected or len(numbers) > MAX_PNG_UNITS:
            raise SettingsError(f"{kind}_units", f"the PNG's {kind} units are numbered {numbers[:8]}, not from "
                                f"{FIRST_MORE[kind]} on (at most {MAX_PNG_UNITS})")  # fmt: skip
        units = []
        for number in numbers:
            where = f"{kind}_unit_{number}"
            units.append(read_unit(kind, number, _unit_values(kind, entries[number], where))[0])  # type: ignore[arg-type]
        more[f"more_{kind}_units"] = tuple(units)
    return more
