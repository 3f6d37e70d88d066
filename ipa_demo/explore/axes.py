"""Sweep axes: ``ip-scale=0,0.5,1``, ``ip-preset=all,style``, ``ip-layers=each`` ...

An axis is named after a generation flag without its dashes and lists the values it takes; any
declared setting with a flag can be an axis, its values parsed by its declared kind (a list
setting's values, such as ``ip-weights``, separated by ``;``). Shorthands: ``ip-preset`` (named
layer masks), ``ip-curve`` (named per-layer weight curves), ``ip-layers=each`` (the layer atlas:
each layer alone) and ``ip-layers=leave-one-out`` (all layers but one). A further unit's setting is an
axis too: ``controlnet-unit-2-scale=0.3,0.6`` (``unit_axes``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..architecture import Architecture
from ..architecture.layers import DEFAULT_ARCHITECTURE, MASK_PRESETS, WEIGHT_CURVES
from ..settings import SettingsError
from ..settings.declarations import SETTINGS, Setting
from .unit_axes import unit_axis_values

EACH, LEAVE_ONE_OUT = "each", "leave-one-out"
# Far above any useful axis (the layer atlas is 14 characters), far below a cost: a request's axes
# are parsed before the queue, and a long one would otherwise be echoed whole in its error.
MAX_AXIS_CHARS = 1000
SHOWN_CHARS = 40  # of a value quoted in an error


@dataclass(frozen=True)
class AxisValue:
    label: str  # as the grid and sweep.json show it
    changes: dict[str, Any]  # API parameter -> value, over the shared settings


@dataclass(frozen=True)
class Axis:
    name: str  # "ip-scale", "ip-layers", ...
    values: tuple[AxisValue, ...]
    where: str = ""  # the control or flag it came from, for errors about its values

    @property
    def parameter(self) -> str | None:
        """The setting this axis moves, when it moves one number (what a response plot can put on x)."""
        setting = _by_flag().get(self.name)
        return setting.name if setting is not None and setting.kind in ("float", "int") else None


NO_AXIS = Axis("", (AxisValue("", {}),))  # a sweep along one axis has one row


# Axes over named values: name -> (value by name, the API parameter it sets, what a value is)
SHORTHANDS: dict[str, tuple[Mapping[str, Any], str, str]] = {
    "ip-preset": (MASK_PRESETS, "ip_layers", "a preset"),
    "ip-curve": (WEIGHT_CURVES, "ip_weights", "a weight curve"),
}


def _by_flag() -> dict[str, Setting]:
    return {setting.flag.removeprefix("--"): setting for setting in SETTINGS if setting.flag}


def axis_names() -> tuple[str, ...]:
    return (*(name for name, setting in _by_flag().items() if setting.name != "num_images"), *SHORTHANDS)


def _mask(bits: set[int], count: int) -> str:
    return "".join("1" if index in bits else "0" for index in range(count))


def _layer_axis(spec: str, architecture: Architecture) -> tuple[AxisValue, ...] | None:
    """The layer atlas over the model's own attention modules (16 on SD 1.5, 11 on SDXL)."""
    count = len(architecture.modules)
    every = set(range(count))
    if spec == EACH:
        return tuple(AxisValue(f"L{index} alone", {"ip_layers": _mask({index}, count)}) for index in sorted(every))
    if spec == LEAVE_ONE_OUT:
        return tuple(
            AxisValue(f"all but L{index}", {"ip_layers": _mask(every - {index}, count)}) for index in sorted(every)
        )
    return None


def shown(text: str) -> str:
    """``text`` quoted for an error message, shortened."""
    return repr(text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…")


def _parse_value(setting: Setting, text: str, where: str) -> Any:
    try:
        if setting.kind == "float":
            return float(text)
        if setting.kind == "int":
            return int(text)
    except ValueError:
        kind = "number" if setting.kind == "float" else "whole number"
        raise SettingsError(where, f"{shown(text)} is not a {kind}") from None
    if setting.kind == "flag":
        if text.lower() not in ("true", "false"):
            raise SettingsError(where, f"{shown(text)} is not true or false")
        return text.lower() == "true"
    return text


def parse_axis(spec: str, where: str, architecture: Architecture = DEFAULT_ARCHITECTURE) -> Axis:
    """``name=v1,v2,...`` (a list setting: ``name=v1;v2``); ``where`` names the control or flag in errors;
    ``architecture``: the base model's, whose modules the layer atlas goes over."""
    if len(spec) > MAX_AXIS_CHARS:
        raise SettingsError(where, f"is {len(spec):,} characters long; an axis may have at most {MAX_AXIS_CHARS:,}")
    name, sep, listed = (part.strip() for part in spec.partition("="))
    if not sep or not listed:
        raise SettingsError(where, f"{shown(spec)} is not NAME=VALUE,VALUE,... (e.g. ip-scale=0,0.5,1)")
    setting = _by_flag().get(name)
    separator = ";" if setting is not None and setting.kind == "floats" else ","
    texts = [text.strip() for text in listed.split(separator) if text.strip()]
    if not texts:
        raise SettingsError(where, f"{shown(spec)} lists no value")
    if name == "ip-layers" and (layers := _layer_axis(listed, architecture)) is not None:
        return Axis(name, layers, where)
    if len(set(texts)) != len(texts):
        raise SettingsError(where, f"{shown(spec)} lists a value twice")
    if name in SHORTHANDS:
        choices, parameter, what = SHORTHANDS[name]
        unknown = [text for text in texts if text not in choices]
        if unknown:
            raise SettingsError(where, f"{shown(unknown[0])} is not {what}; use {', '.join(choices)}")
        return Axis(name, tuple(AxisValue(text, {parameter: choices[text]}) for text in texts), where)
    unit_values = unit_axis_values(name, texts, where)
    if unit_values is not None:
        return Axis(name, tuple(AxisValue(label, changes) for label, changes in unit_values), where)
    if setting is None:
        raise SettingsError(where, f"{shown(name)} is not a setting to sweep; use one of {', '.join(axis_names())}, "
                            "or a further unit's as controlnet-unit-2-scale")
    if setting.name == "num_images":
        raise SettingsError(where, "every cell is one image, so num-images cannot be an axis (seed=1,2,3 can)")
    values = tuple(AxisValue(f"{name}={text}", {setting.name: _parse_value(setting, text, where)}) for text in texts)
    return Axis(name, values, where)
