"""The ControlNet extension's units (``alwayson_scripts.controlnet.args``), read into what they ask for.

Each unit is a dict as the extension documents it (``internal_controlnet/args.py``): ``module`` (the
preprocessor), ``model``, ``image`` (base64, ``{"image", "mask"}``, or a list of them), ``weight``,
``guidance_start``/``guidance_end``, ``control_mode``, ``threshold_a``/``threshold_b``, ...; unknown
keys are ignored, as the extension ignores them, and the deprecated aliases (``input_image``,
``guidance``, ``lowvram``) are read as the fields they stand for. A unit becomes one ``Unit`` of one of
four roles (IP-Adapter, ControlNet, T2I-Adapter, reference-only) or an error naming its field. What
a unit may ask for that we do not do is refused, never dropped: another preprocessor or model, an
inpainting mask, per-block ControlNet weights, a control mode we do not run for its kind. A ControlNet's
``control_mode`` is the extension's: 1 "My prompt is more important" is soft injection (its per-block
factors on both halves of CFG), 2 "ControlNet is more important" is soft injection on the prompt's half
only (our guess mode with soft injection). A T2I-Adapter takes 0 and 1 (its own soft factors); 2, which
the extension runs on the prompt's half only, is refused; IP-Adapter and reference-only units take 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..architecture.lengths import MASK_LENGTHS, known_mask_lengths
from .errors import bad_field
from .lists import ControlModel, find_model

Role = Literal["ip", "controlnet", "t2i", "reference"]
ALIASES = {"input_image": "image", "guidance": "guidance_end", "lowvram": "low_vram"}
MAX_UNITS = 10  # entries in ``args``, enabled or not (the extension's own default is 3)

# Preprocessor -> (role, the map it makes: None for IP-Adapter / reference, "" for "none": the image is the map)
IP_MODULES = ("ip-adapter_clip_sd15", "ip-adapter_clip_h", "ip-adapter-auto", "ip-adapter_clip_sdxl_plus_vith")
MAP_MODULES = {"canny": "canny", "depth": "depth", "depth_midas": "depth", "depth_anything_v2": "depth",
               "openpose": "openpose"}  # fmt: skip
REFERENCE_MODULES = {"reference_only": "attn", "reference_adain": "adain", "reference_adain+attn": "attn+adain"}
MODULES: tuple[str, ...] = ("none", *IP_MODULES, *MAP_MODULES, *REFERENCE_MODULES)
NO_MODEL = ("", "none", "None")
CONTROL_MODES = {0: "Balanced", 1: "My prompt is more important", 2: "ControlNet is more important"}
RESIZE_MODES = {0: "Just Resize", 1: "Crop and Resize", 2: "Resize and Fill"}
RESIZE_ALIASES = {
    "Inner Fit (Scale to Fit)": "Crop and Resize",
    "Scale to Fit (Inner Fit)": "Crop and Resize",
    "Outer Fit (Shrink to Fit)": "Resize and Fill",
    "Envelope (Outer Fit)": "Resize and Fill",
}


@dataclass(frozen=True)
class UnitImage:
    """One input image of a unit: its base64 text and the field it came in."""

    text: str
    field: str


@dataclass(frozen=True)
class Unit:
    index: int
    field: str  # "alwayson_scripts.controlnet.args[0]"
    role: Role
    kind: str  # IP variant, ControlNet / T2I kind, or reference mode
    is_map: bool  # module "none": the image is already the map
    images: tuple[UnitImage, ...]
    weight: float
    start: float
    end: float
    guess_mode: bool  # "ControlNet is more important": the prompt's half of CFG only (with soft)
    soft: bool  # "My prompt is more important" or the above: the extension's per-block factors
    threshold_a: Any
    threshold_b: Any
    layer_weights: tuple[Any, ...] | None
    region: UnitImage | None
    resize_mode: str
    save_detected_map: bool
    crop_input: bool = True  # ``inpaint_crop_input_image``: with "Only masked", its image is cropped as the init image

    def at(self, name: str) -> str:
        return f"{self.field}.{name}"


def read_units(script: Mapping[str, Any], field: str) -> list[Unit]:
    """The enabled units of the extension's script entry ``{"args": [...]}``, in order."""
    if not isinstance(script, Mapping):
        raise bad_field(field, 'must be an object such as {"args": [unit, ...]}')
    args = script.get("args", [])
    if not isinstance(args, list):
        raise bad_field(f"{field}.args", "must be a list of units")
    if len(args) > MAX_UNITS:
        raise bad_field(f"{field}.args", f"at most {MAX_UNITS} units on this server, got {len(args)}")
    units = []
    for index, raw in enumerate(args):
        where = f"{field}.args[{index}]"
        if not isinstance(raw, Mapping):
            raise bad_field(where, "must be an object (a ControlNet unit)")
        values = _with_aliases(raw, where)
        if not _flag(values.get("enabled", False), f"{where}.enabled"):
            continue
        if values.get("module", "none") == "none" and values.get("model", "None") in NO_MODEL:
            continue  # enabled but empty: the extension does nothing with it either
        units.append(_unit(index, where, values))
    return units


def _with_aliases(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    values = dict(raw)
    for alias, name in ALIASES.items():
        if alias in values:
            if name in values and values[name] != values[alias]:
                raise bad_field(f"{where}.{alias}", f"is the old name of {name}; send only one of them")
            values[name] = values.pop(alias)
    if values.get("mask_image") is not None:
        if values.get("mask") is not None:
            raise bad_field(f"{where}.mask_image", "is another name for mask; send only one of them")
        values["mask"] = values.pop("mask_image")
    return values


def _flag(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise bad_field(field, f"must be true or false, got {value!r}"[:120])
    return value


def _choice(value: Any, table: Mapping[int, str], field: str, aliases: Mapping[str, str] | None = None) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value in table:
        return table[value]
    if isinstance(value, str) and (aliases or {}).get(value, value) in table.values():
        return (aliases or {}).get(value, value)
    raise bad_field(field, f"must be one of {', '.join(table.values())} (or 0–{len(table) - 1}), got {value!r}"[:200])


def _role(module: str, model: ControlModel | None, unit_field: str) -> tuple[Role, str, bool]:
    """What a unit does, from its preprocessor and its model."""
    if module in REFERENCE_MODULES:
        return "reference", REFERENCE_MODULES[module], False
    if model is None:
        raise bad_field(f"{unit_field}.model", f"is needed with module {module!r}; see GET /controlnet/model_list")
    if module in IP_MODULES or module == "none" and model.role == "ip":
        if model.role != "ip":
            raise bad_field(f"{unit_field}.model", f"module {module} needs an IP-Adapter model, got {model.name}")
        return "ip", model.kind, False
    if model.role == "ip":
        raise bad_field(f"{unit_field}.module", f"an IP-Adapter model needs an ip-adapter module, got {module!r}")
    made = MAP_MODULES.get(module, "")
    if made and made != model.kind:
        raise bad_field(
            f"{unit_field}.module",
            f"{module} makes a {made} map, and this server gives a {made} map only to a {made} model, not to "
            f"{model.name}; use module none to send a ready map",
        )
    return model.role, model.kind, module == "none"


def _unit(index: int, where: str, values: Mapping[str, Any]) -> Unit:
    module = values.get("module", "none")
    if module not in MODULES:
        raise bad_field(
            f"{where}.module", f"{module!r} is not offered here; see GET /controlnet/module_list"[:300]
        )
    model_name = values.get("model", "None")
    model = None if model_name in NO_MODEL or module in REFERENCE_MODULES else find_model(model_name, f"{where}.model")
    role, kind, is_map = _role(module, model, where)
    if values.get("mask") is not None:
        raise bad_field(f"{where}.mask", "unit masks (inpainting preprocessors) are not offered here; for an "
                        "IP-Adapter region use effective_region_mask")  # fmt: skip
    if values.get("ipadapter_input") is not None:
        reason = "precomputed IP-Adapter embeddings are not accepted; send the image"
        raise bad_field(f"{where}.ipadapter_input", reason)
    control_mode = _choice(values.get("control_mode", 0), CONTROL_MODES, f"{where}.control_mode")
    offered = {"controlnet": 3, "t2i": 2}.get(role, 1)  # modes 0 to offered - 1
    if control_mode not in tuple(CONTROL_MODES.values())[:offered]:
        what = {"t2i": "Balanced (0) or My prompt is more important (1) for a T2I-Adapter"}.get(role, "Balanced (0)")
        raise bad_field(f"{where}.control_mode", f"{control_mode!r} is not offered for this unit here: send {what}")
    images = _images(values.get("image"), f"{where}.image")
    if len(images) > 1 and role != "ip":
        raise bad_field(f"{where}.image", f"takes one image for this unit, got {len(images)}")
    _flag(values.get("save_detected_map", True), f"{where}.save_detected_map")
    for name in ("pixel_perfect", "low_vram"):
        _flag(values.get(name, False), f"{where}.{name}")
    crop_input = _flag(values.get("inpaint_crop_input_image", True), f"{where}.inpaint_crop_input_image")
    region = values.get("effective_region_mask")
    if region is not None and role != "ip":
        raise bad_field(f"{where}.effective_region_mask", "regions are offered for IP-Adapter units only")
    weighting = values.get("advanced_weighting")
    return Unit(
        index=index, field=where, role=role, kind=kind, is_map=is_map, images=images,
        weight=1.0 if weighting is not None and role == "ip" else values.get("weight", 1.0),
        start=values.get("guidance_start", 0.0),
        end=values.get("guidance_end", 1.0), guess_mode=control_mode == CONTROL_MODES[2],
        soft=control_mode != CONTROL_MODES[0],
        threshold_a=values.get("threshold_a", -1), threshold_b=values.get("threshold_b", -1),
        layer_weights=_layer_weights(weighting, role, f"{where}.advanced_weighting"),
        region=UnitImage(region, f"{where}.effective_region_mask") if region is not None else None,
        resize_mode=_choice(values.get("resize_mode", 1), RESIZE_MODES, f"{where}.resize_mode", RESIZE_ALIASES),
        save_detected_map=values.get("save_detected_map", True), crop_input=crop_input,
    )  # fmt: skip


def _images(value: Any, field: str) -> tuple[UnitImage, ...]:
    """The forms the extension takes: base64, {"image", "mask"}, [image, mask], or a list of dicts."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (UnitImage(value, field),)
    if isinstance(value, Mapping):
        if value.get("mask") not in (None, ""):
            raise bad_field(f"{field}.mask", "unit masks (inpainting preprocessors) are not offered here")
        return _images(value.get("image"), f"{field}.image")
    if isinstance(value, list):
        if len(value) == 2 and all(isinstance(item, str) or item is None for item in value):
            return _images({"image": value[0], "mask": value[1]}, field)
        found: list[UnitImage] = []
        for position, item in enumerate(value):
            if not isinstance(item, (Mapping, str)):
                raise bad_field(f"{field}[{position}]", 'must be {"image": base64, "mask": base64 or null}')
            found += _images(item, f"{field}[{position}]")  # a bare string: one more image (not a pair)
        return tuple(found)
    raise bad_field(field, "must be a base64 image, {\"image\", \"mask\"}, or a list of them")


def _layer_weights(value: Any, role: Role, field: str) -> tuple[Any, ...] | None:
    """The extension's IP weights: one per attention module in the order the UNet calls them (its
    ``transformer_index``: input blocks, the middle block, output blocks), which is ours. They stand in
    for the unit's ``weight`` (the extension then ignores it, and so do we: λ is 1 and these multiply it)."""
    if value is None:
        return None
    if role != "ip":
        raise bad_field(field, "per-block weights are offered for IP-Adapter units only")
    if not isinstance(value, list) or len(value) not in MASK_LENGTHS:
        count = len(value) if isinstance(value, list) else value
        reason = f"needs one number per attention module ({known_mask_lengths()}), got {count!r}"
        raise bad_field(field, reason[:200])
    return tuple(value)
