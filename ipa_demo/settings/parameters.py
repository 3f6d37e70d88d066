"""The A1111 ``parameters`` text, written into each PNG and read back, derived from the declarations.

Format: the prompt, a ``Negative prompt:`` line, then one line of ``Key: value`` pairs separated by
", ". Keys A1111 knows keep their names (Steps, Sampler, CFG scale, Seed, Size, Denoising strength);
ours start with "IP". A setting is written while the part it belongs to acted (the IP keys only
when IP-Adapter ran, ...). Values holding ", " are quoted. A prompt that this layout cannot carry
back (one with a line starting "Negative prompt:", say) is also written, JSON-quoted, as "Exact
prompt" / "Exact negative prompt", which the reader prefers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any, NamedTuple

from ..models.catalog import IP_ADAPTERS
from ..models.catalog_sdxl import SDXL_IP_ADAPTERS
from .checks import SettingsError
from .declarations import BY_NAME, PACKED_KEYS, SETTINGS, PackedKey, PngGroup, Setting
from .generation import GenerationSettings
from .pairs import read_pairs, starts_with_pair
from .unit_infotext import unit_entries, units_from_entries
from .values import settings_from_values, values_from_settings

VERSION = "ipa_demo 0.1.0"
EXACT_PROMPT, EXACT_NEGATIVE = "Exact prompt", "Exact negative prompt"
EXACT_KEYS = (EXACT_PROMPT, EXACT_NEGATIVE)
GROUP_ORDER: tuple[PngGroup, ...] = (
    "always", "img2img", "ip", "ip2", "controlnet", "t2i", "reference_only", "control_map", "canny"
)  # fmt: skip
# A1111's own order first; every other key follows in declaration order within its group.
LEADING_KEYS = ("Steps", "Sampler", "CFG scale", "Seed", "Size", "IP-Adapter")
# A1111's own texts are a few KB; ours add the inline region masks (a few KB each, at most 16).
# A PNG is anyone's upload: a longer text is refused before it is parsed.
MAX_PARAMETERS_CHARS = 256 * 1024
_VARIANT_OF_KEY = {spec.key: name for table in (SDXL_IP_ADAPTERS, IP_ADAPTERS) for name, spec in table.items()}


def _entries(group: str | None = None) -> Iterator[Setting | PackedKey]:
    """The keys a PNG may carry (those of ``group``, or all), in writing order: by group, then as declared."""
    packed_first = {packed.names[0]: packed for packed in PACKED_KEYS}
    in_order: list[Setting | PackedKey] = []
    for setting in SETTINGS:
        if setting.png is not None:
            in_order.append(setting)
        elif setting.name in packed_first:
            in_order.append(packed_first[setting.name])
    def rank(entry: Setting | PackedKey) -> int:
        key = entry.key if isinstance(entry, PackedKey) else entry.png
        return LEADING_KEYS.index(key) if key in LEADING_KEYS else len(LEADING_KEYS)

    for each in GROUP_ORDER if group is None else (group,):
        yield from sorted((entry for entry in in_order if entry.png_group == each), key=rank)


def _active_groups(settings: GenerationSettings, ip_used: bool, img2img: bool, ip2_used: bool) -> set[str]:
    structure = settings.needs_control_image
    kinds = {s.kind for s in (settings.controlnet, settings.t2i) if s.is_active}
    flags = {
        "always": True,
        "img2img": img2img,
        "ip": ip_used,
        "ip2": ip2_used,
        "controlnet": settings.controlnet.is_active,
        "t2i": settings.t2i.is_active,
        "reference_only": settings.reference_only.is_active,
        "control_map": structure and settings.control_is_map,
        "canny": structure and not settings.control_is_map and "canny" in kinds,
    }
    return {group for group, active in flags.items() if active}


VARIANT_SETTINGS = ("ip_variant", "ip2_variant")  # written as the checkpoint's name, as A1111 does


def _encode(setting: Setting, value: Any) -> str:
    if setting.name in VARIANT_SETTINGS:
        return (IP_ADAPTERS if value in IP_ADAPTERS else SDXL_IP_ADAPTERS)[value].key
    if setting.kind == "float":
        return f"{value:g}"
    return str(value)


def _decode(setting: Setting, text: str) -> Any:
    if setting.name in VARIANT_SETTINGS:
        if text not in _VARIANT_OF_KEY:
            raise SettingsError(setting.name, f"unknown IP-Adapter {text!r} in the PNG's parameters")
        return _VARIANT_OF_KEY[text]
    if setting.kind == "float":
        return float(text)
    if setting.kind == "int":
        return int(text)
    if setting.kind == "flag":
        return text in ("True", "given")  # "given": the control map flag of earlier versions
    return text


def _quote(value: str, always: bool = False) -> str:
    return json.dumps(value, ensure_ascii=False) if (always or "," in value or '"' in value) else value


def format_parameters(
    settings: GenerationSettings,
    seed: int,
    *,
    ip_used: bool,
    img2img: bool,
    ip2_used: bool = False,
    model_hash: str | None = None,
    vae: str | None = None,
    lora_hashes: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> str:
    """The text for one image; ``seed`` is that image's own seed; ``extra`` pairs about its input images.

    The models go in as A1111 writes them: ``Model hash`` (single files only), ``Model`` (the
    ``base_model`` setting: the engine writes the name of the model that ran; empty, it is left out),
    ``VAE`` (when not the model's own) and ``Lora hashes: "name: hash, ..."`` for the prompt's LoRA tags.
    """
    values = {**values_from_settings(settings), "seed": seed}
    active = _active_groups(settings, ip_used, img2img, ip2_used)
    pairs: dict[str, str] = {}
    for group in (group for group in GROUP_ORDER if group in active):
        for entry in _entries(group):
            if isinstance(entry, PackedKey):
                parts = [_encode(BY_NAME[name], values[name]) for name in entry.names]
                if entry.labels:
                    parts = [f"{label}={part}" for label, part in zip(entry.labels, parts, strict=True)]
                pairs[entry.key] = entry.separator.join(parts)
            elif entry.kind not in ("floats", "text") or values[entry.name]:  # a list or name not given: not written
                if entry.png == "Model" and model_hash:  # A1111's order: the hash, then the name
                    pairs["Model hash"] = model_hash
                pairs[entry.png] = _encode(entry, values[entry.name])  # type: ignore[index]
        if group == "always" and vae:
            pairs["VAE"] = vae
    if lora_hashes:
        pairs["Lora hashes"] = ", ".join(f"{name}: {digest}" for name, digest in lora_hashes.items())
    pairs.update(unit_entries(settings, ip_used=ip_used, ip2_used=ip2_used))
    pairs.update(extra or {})
    pairs["Version"] = VERSION
    text = _layout(settings.prompt, settings.negative_prompt, pairs)
    if parse_parameters(text, max_chars=len(text))[:2] == (settings.prompt, settings.negative_prompt):
        return text
    pairs.update({EXACT_PROMPT: settings.prompt, EXACT_NEGATIVE: settings.negative_prompt})
    return _layout(settings.prompt, settings.negative_prompt, pairs)


def _layout(prompt: str, negative: str, pairs: dict[str, str]) -> str:
    details = ", ".join(f"{key}: {_quote(value, always=key in EXACT_KEYS)}" for key, value in pairs.items())
    return f"{prompt}\nNegative prompt: {negative}\n{details}"


class ParametersTextError(ValueError):
    """A parameters text this app will not read (the caller names where it came from)."""


class ParsedParameters(NamedTuple):
    prompt: str
    negative_prompt: str
    pairs: dict[str, str]


def parse_parameters(text: str, max_chars: int = MAX_PARAMETERS_CHARS) -> ParsedParameters:
    """(prompt, negative prompt, key -> value) from a ``parameters`` text, in time linear in its length;
    a text longer than ``max_chars`` is refused unread (``ParametersTextError``)."""
    if len(text) > max_chars:
        raise ParametersTextError(
            f"its parameters text is {len(text):,} characters long; at most {max_chars:,} are read"
        )
    lines = text.strip("\n").split("\n")
    details = lines.pop() if lines and starts_with_pair(lines[-1]) else ""
    negative_lines: list[str] = []
    prompt_lines: list[str] = []
    for line in lines:
        if line.startswith("Negative prompt:") or negative_lines:
            negative_lines.append(line.removeprefix("Negative prompt:").removeprefix(" "))
        else:
            prompt_lines.append(line)
    pairs = read_pairs(details)
    prompt = pairs.pop(EXACT_PROMPT, "\n".join(prompt_lines))
    return ParsedParameters(prompt, pairs.pop(EXACT_NEGATIVE, "\n".join(negative_lines)), pairs)


def _unpack(packed: PackedKey, text: str) -> dict[str, str]:
    parts = text.split(packed.separator)
    if packed.labels:
        labelled = dict(part.split("=", 1) for part in parts if "=" in part)
        return {name: labelled[label] for name, label in zip(packed.names, packed.labels) if label in labelled}
    if len(parts) != len(packed.names):
        raise SettingsError(packed.names[0], f"{packed.key} {text!r} is not {packed.separator.join(packed.names)}")
    return dict(zip(packed.names, parts))


def settings_from_parameters(text: str | ParsedParameters) -> GenerationSettings:
    """Rebuild the settings a PNG was made with (the inverse of ``format_parameters``) from its text,
    or from the text parsed once (``parse_parameters``) when the caller reads more of it."""
    prompt, negative, pairs = parse_parameters(text) if isinstance(text, str) else text
    values = values_from_settings(GenerationSettings(prompt=""))
    values.update(prompt=prompt, negative_prompt=negative)
    found: dict[str, str] = {}
    for entry in _entries():
        if isinstance(entry, PackedKey):
            if entry.key in pairs:
                found.update(_unpack(entry, pairs[entry.key]))
        elif entry.png in pairs:
            found[entry.name] = pairs[entry.png]  # type: ignore[index]
    for name, raw in found.items():
        values[name] = _decode(BY_NAME[name], raw)
    if "IP-Adapter" not in pairs:  # IP-Adapter did not act
        values["ip_scale"] = 0.0
    if "IP2-Adapter" not in pairs:
        values["ip2_scale"] = 0.0
    return replace(settings_from_values(values, values["seed"]), **units_from_entries(pairs))
