"""The page's further units: one closed section per kind, an "Add unit" button, a few controls per unit.

The first unit of each kind keeps its place above; these are the units after it, as many as this server
takes (``IPA_MAX_UNITS``). An IP-Adapter unit's form has all that the first unit's has, built by the same
code (``reference_controls.unit_options``): per-layer weights, several references, regions, negative image. Each section holds the kind's API parameter (``controlnet_units``, a hidden JSON
input that ``gradio_client`` callers fill directly) and the unit forms the page shows; whenever a form
changes, its values are written into that parameter, files as Gradio's own file values. A PNG's units
come back the other way: the parameter is written, then the forms from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from ..settings import Limits
from ..settings.declarations import BY_NAME, COMBINE_MODES, CONTROLNET_KINDS, IP_VARIANTS, T2I_KINDS
from ..settings.unit_keys import MAP_KEY, MASK_PRESETS, STAGE_NAMES
from ..settings.unit_names import UNIT_PARAMS, UNIT_WORDS
from ..settings.units import FIRST_MORE, UnitKind
from ..settings.values import default_values, floats_text
from . import components as uc
from .components import HELPER
from .payloads import META, OWN_CHECK
from .reference_controls import Naming, unit_options
from .unit_payloads import checked_units, units_input
from .weight_grid import ModelChoice

# What each unit form shows, by unit key: the first unit's setting it follows (label, range, help).
STRUCTURE_SLIDERS = {"controlnet": ("scale", "start", "end"), "t2i": ("scale", "factor")}


def _elem_id(kind: str, number: int, key: str) -> str:
    return f"{kind}-unit-{number}-{key}"  # no dot: a CSS selector takes it as it is


def _setting(kind: UnitKind, key: str) -> str:
    return {"kind": kind}.get(key, f"{kind}_{key}")


@dataclass
class UnitForm:
    """The controls of one unit; ``values`` are in ``keys`` order."""

    kind: UnitKind
    number: int
    group: gr.Group
    keys: tuple[str, ...]
    inputs: list[Any] = field(default_factory=list)


def _file(path: Any) -> dict[str, Any] | None:
    return {"path": str(path), "meta": META} if path else None


def _path(file: Any) -> str | None:
    return file.get("path") if isinstance(file, dict) else file or None


def _structure_form(kind: UnitKind, number: int) -> UnitForm:
    label = f"{UNIT_WORDS[kind]} unit {number}"
    with gr.Group(visible=False) as group:
        gr.Markdown(f"**{label}**")
        kinds = [choice for choice in (CONTROLNET_KINDS if kind == "controlnet" else T2I_KINDS)]
        inputs: list[Any] = [uc.radio(kinds, value=kinds[1], label=f"{label}: kind", elem_id=_elem_id(kind, number, "kind"))]
        with gr.Row():
            inputs.append(uc.image(label=f"{label}: image", type="filepath", image_mode=None, height=160,
                                   elem_id=_elem_id(kind, number, "image")))  # fmt: skip
            inputs.append(gr.Checkbox(False, label=f"{label}: the image is already a map",
                                      elem_id=_elem_id(kind, number, "is_map")))  # fmt: skip
            if kind == "controlnet":
                inputs.append(uc.image(label=f"{label}: region mask (white: acts)", type="filepath", image_mode=None,
                                       height=160, elem_id=_elem_id(kind, number, "mask")))  # fmt: skip
        with gr.Row():
            for key in STRUCTURE_SLIDERS[kind]:
                setting = BY_NAME[_setting(kind, key)]
                inputs.append(uc.slider(setting.low, setting.high, value=1.0 if key in ("scale", "end", "factor") else 0.0,
                                        step=setting.step, label=f"{label}: {key}", elem_id=_elem_id(kind, number, key)))  # fmt: skip
    keys = ("kind", "image", "is_map", *(("mask",) if kind == "controlnet" else ()), *STRUCTURE_SLIDERS[kind])
    return UnitForm(kind, number, group, keys, inputs)


IP_KEYS = ("reference", "variant", "preset", "scale", "start", "end", "weights", "combine", "reference-weight", "mask",
           "negative")  # fmt: skip
IP_TEXT_KEYS = ("weights", "reference-weight")  # lists typed as "1, 0.5"; empty: not given


def _preset_meaning(preset: str) -> tuple[str, tuple[float, ...]] | None:
    """What a further unit's layer preset stands for (it has no stage weights: 1 each)."""
    return (MASK_PRESETS[preset], (1.0,) * len(STAGE_NAMES)) if preset in MASK_PRESETS else None


def _ip_form(number: int, limits: Limits, model: ModelChoice | None = None) -> UnitForm:
    label = f"IP-Adapter unit {number}"
    naming = Naming(label, f"ip-unit-{number}")
    with gr.Group(visible=False) as group:
        gr.Markdown(f"**{label}**")
        inputs: list[Any] = [gr.Gallery(label=f"{label}: reference image(s)", type="filepath", interactive=True,
                                        columns=4, height=150, object_fit="contain",
                                        elem_id=_elem_id("ip", number, "references"))]  # fmt: skip
        with gr.Row():
            inputs.append(uc.dropdown(list(IP_VARIANTS), value=IP_VARIANTS[0], label=f"{label}: variant",
                                      elem_id=_elem_id("ip", number, "variant")))  # fmt: skip
            inputs.append(uc.radio(list(MASK_PRESETS), value="all", label=f"{label}: layers",
                                   elem_id=_elem_id("ip", number, "preset")))  # fmt: skip
        with gr.Row():
            for key, value in (("scale", 0.7), ("start", 0.0), ("end", 1.0)):
                setting = BY_NAME[f"ip_{key}"]
                inputs.append(uc.slider(setting.low, setting.high, value=value, step=setting.step,
                                        label=f"{label}: {'λ' if key == 'scale' else key}",
                                        elem_id=_elem_id("ip", number, key)))  # fmt: skip

        def make(name: str, **overrides: Any) -> Any:
            return uc.control(name, limits, default_values()[name], **overrides)

        options = unit_options(make, naming, [inputs[2]], _preset_meaning, "From the layer preset", model)
        inputs += [options.weights, options.combine, options.reference_weights, options.masks, options.negative]
    return UnitForm("ip", number, group, IP_KEYS, inputs)


def _gallery_files(items: Any) -> list[dict[str, Any]]:
    files = [_file(item[0] if isinstance(item, (list, tuple)) else item) for item in items or ()]
    return [item for item in files if item]


def form_values(form: UnitForm, values: Sequence[Any]) -> dict[str, Any]:
    """The unit a form's values stand for, as the API takes it."""
    given = dict(zip(form.keys, values, strict=True))
    if form.kind == "ip":
        unit = {key: value for key, value in given.items() if key not in ("mask", "negative", *IP_TEXT_KEYS)}
        unit.update({key: given[key] for key in IP_TEXT_KEYS if str(given[key] or "").strip()})
        unit["reference"] = _gallery_files(given["reference"])
        if masks := _gallery_files(given["mask"]):
            unit["mask"] = masks
        if given["negative"]:
            unit["negative"] = _file(given["negative"])
        return unit
    image, is_map = given.pop("image"), given.pop("is_map")
    unit = {key: value for key, value in given.items() if key != "mask"}
    if image:
        unit["map" if is_map else "image"] = _file(image)
    elif is_map:  # no picture yet (a PNG's unit): the form still says that it takes a ready map
        unit[MAP_KEY] = True
    if given.get("mask"):
        unit["mask"] = _file(given["mask"])
    return unit


def _as_text(value: Any) -> str:
    """A list key's value as its text box shows it ("1, 0.5"); text as it came."""
    return floats_text(tuple(value)) if isinstance(value, (list, tuple)) else str(value or "")


def values_of_unit(form: UnitForm, unit: dict[str, Any]) -> list[Any]:
    """A form's values for a unit of the parameter (a PNG's units come without images)."""
    if form.kind == "ip":
        preset = next((name for name, bits in MASK_PRESETS.items() if bits == unit.get("layers")), "all")
        references, masks = ([_path(item) for item in unit.get(key) or () if _path(item)] for key in ("reference", "mask"))
        texts = [_as_text(unit.get(key)) for key in IP_TEXT_KEYS]
        return [references or None, unit.get("variant", IP_VARIANTS[0]), preset, unit.get("scale", 0.7),
                unit.get("start", 0.0), unit.get("end", 1.0), texts[0], unit.get("combine", COMBINE_MODES[0]),
                texts[1], masks or None, _path(unit.get("negative"))]  # fmt: skip
    image = _path(unit.get("map")) or _path(unit.get("image"))
    values = [unit.get("kind", "none"), image, bool(unit.get("map")) or unit.get(MAP_KEY) is True]
    if form.kind == "controlnet":
        values.append(_path(unit.get("mask")))
    defaults = {"scale": 1.0, "start": 0.0, "end": 1.0, "factor": 1.0}
    return values + [unit.get(key, defaults[key]) for key in STRUCTURE_SLIDERS[form.kind]]


@dataclass
class UnitSection:
    kind: UnitKind
    parameter: gr.JSON
    count: gr.State
    forms: list[UnitForm]
    add: gr.Button
    remove: gr.Button

    @property
    def form_inputs(self) -> list[Any]:
        return [component for form in self.forms for component in form.inputs]

    def assemble(self, count: int, *values: Any) -> list[dict[str, Any]]:
        units, position = [], 0
        for form in self.forms:
            width = len(form.inputs)
            if form.number - FIRST_MORE[self.kind] < count:
                units.append(form_values(form, values[position : position + width]))
            position += width
        return units

    def shown(self, count: int) -> list[Any]:
        visible = [gr.update(visible=index < count) for index in range(len(self.forms))]
        return [count, *visible, gr.update(interactive=count < len(self.forms)), gr.update(interactive=count > 0)]

    def restore(self, units: Any) -> list[Any]:
        """The forms from the parameter's value (after a PNG is loaded)."""
        units = [unit for unit in units or () if isinstance(unit, dict)][: len(self.forms)]
        values: list[Any] = []
        for index, form in enumerate(self.forms):
            values += values_of_unit(form, units[index]) if index < len(units) else [gr.skip()] * len(form.inputs)
        return [*self.shown(len(units)), *values]


def unit_section(kind: UnitKind, limits: Limits, model: ModelChoice | None = None) -> UnitSection:
    """The closed section of ``kind``'s further units; its ``parameter`` is the API input; ``model``: the
    base-model picker, whose choice an IP unit's per-layer weights grid follows."""
    first_units = FIRST_MORE[kind] - 1
    slots = max(0, limits.max_units - first_units)
    word = UNIT_WORDS[kind]
    with gr.Accordion(f"More {word} units", open=False):
        parameter = units_input(kind)
        setattr(parameter, OWN_CHECK, lambda payload, check_file: checked_units(kind, payload, check_file))
        count = gr.State(0)
        forms = [_ip_form(FIRST_MORE[kind] + index, limits, model) if kind == "ip"
                 else _structure_form(kind, FIRST_MORE[kind] + index)
                 for index in range(slots)]  # fmt: skip
        with gr.Row():
            add = gr.Button(f"Add another {word} unit", size="sm", interactive=slots > 0, elem_id=f"add-{kind}-unit")
            remove = gr.Button(f"Remove the last {word} unit", size="sm", interactive=False, elem_id=f"remove-{kind}-unit")
    section = UnitSection(kind, parameter, count, forms, add, remove)
    _wire(section)
    return section


def _wire(section: UnitSection) -> None:
    """One event per kind writes the parameter (whatever changed); Add and Remove only show and hide forms."""
    shown = [section.count, *(form.group for form in section.forms), section.add, section.remove]
    for step, button in ((1, section.add), (-1, section.remove)):
        button.click(lambda count, step=step: section.shown(max(0, min(len(section.forms), count + step))),
                     inputs=section.count, outputs=shown, **HELPER)  # fmt: skip
    triggers = [section.count.change, *(component.change for component in section.form_inputs)]
    gr.on(triggers, section.assemble, inputs=[section.count, *section.form_inputs], outputs=section.parameter, **HELPER)


def restore_units(event: Any, sections: Sequence[UnitSection]) -> None:
    """After ``event`` wrote the unit parameters (a PNG's settings), the forms follow them."""
    for section in sections:
        outputs = [section.count, *(form.group for form in section.forms), section.add, section.remove, *section.form_inputs]
        event.then(section.restore, inputs=section.parameter, outputs=outputs, **HELPER)


def add_unit_sections(fields: dict[str, Any], limits: Limits) -> list[UnitSection]:
    """A section per kind, its parameter into ``fields`` (call where the sections go on the page)."""
    sections = [unit_section(kind, limits) for kind in ("ip", "controlnet", "t2i")]
    for section in sections:
        fields[UNIT_PARAMS[section.kind]] = section.parameter
    return sections
