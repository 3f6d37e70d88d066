"""The A1111 ``parameters`` text: what every setting was, written into each PNG and read back.

Format: the prompt, a ``Negative prompt:`` line, then one line of ``Key: value`` pairs separated by
", ". Keys A1111 knows keep their names (Steps, Sampler, CFG scale, Seed, Size, Denoising strength);
ours start with "IP". Values holding ", " are quoted. A prompt that this layout cannot carry back
(one with a line starting "Negative prompt:", say) is also written, JSON-quoted, as the settings
line's "Exact prompt" / "Exact negative prompt", which the reader prefers.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from .layers import STAGE_NAMES
from .settings import (
    ControlNetSettings,
    GenerationSettings,
    IPAdapterSettings,
    ReferenceOnlySettings,
    SettingsError,
    T2IAdapterSettings,
)
from .sources import IP_ADAPTERS

VERSION = "ipa_demo 0.1.0"
_PAIR = re.compile(r'\s*([\w \-+.]+?):\s*("(?:\\.|[^"\\])*"|[^,]*)(?:,|$)')


EXACT_PROMPT, EXACT_NEGATIVE = "Exact prompt", "Exact negative prompt"
EXACT_KEYS = (EXACT_PROMPT, EXACT_NEGATIVE)


def _quote(value: str, always: bool = False) -> str:
    return json.dumps(value, ensure_ascii=False) if (always or "," in value or '"' in value) else value


def _stages_text(weights: tuple[float, ...]) -> str:
    return " ".join(f"{stage}={weight:g}" for stage, weight in zip(STAGE_NAMES, weights))


def format_parameters(
    settings: GenerationSettings,
    seed: int,
    *,
    ip_used: bool,
    img2img: bool,
    model: str = "stable-diffusion-v1-5",
) -> str:
    """The text for one image; ``seed`` is that image's own seed."""
    pairs: dict[str, str] = {
        "Steps": str(settings.steps),
        "Sampler": settings.scheduler,
        "CFG scale": f"{settings.guidance:g}",
        "Seed": str(seed),
        "Size": f"{settings.width}x{settings.height}",
        "Model": model,
    }
    if img2img:
        pairs["Denoising strength"] = f"{settings.strength:g}"
    if ip_used:
        ip = settings.ip
        pairs.update(
            {
                "IP-Adapter": IP_ADAPTERS[ip.variant].key,
                "IP scale": f"{ip.scale:g}",
                "IP layers": ip.mask,
                "IP stages": _stages_text(ip.stage_weights),
                "IP window": f"{ip.start:g}-{ip.end:g}",
                "IP fit": ip.fit,
            }
        )
    pairs.update(_structure_pairs(settings))
    pairs["Version"] = VERSION
    text = _layout(settings.prompt, settings.negative_prompt, pairs)
    if parse_parameters(text)[:2] == (settings.prompt, settings.negative_prompt):
        return text
    pairs.update({EXACT_PROMPT: settings.prompt, EXACT_NEGATIVE: settings.negative_prompt})
    return _layout(settings.prompt, settings.negative_prompt, pairs)


def _layout(prompt: str, negative: str, pairs: dict[str, str]) -> str:
    details = ", ".join(f"{key}: {_quote(value, always=key in EXACT_KEYS)}" for key, value in pairs.items())
    return f"{prompt}\nNegative prompt: {negative}\n{details}"


def _structure_pairs(settings: GenerationSettings) -> dict[str, str]:
    pairs: dict[str, str] = {}
    control, t2i = settings.controlnet, settings.t2i
    if control.is_active:
        pairs.update(
            {
                "ControlNet": control.kind,
                "ControlNet scale": f"{control.scale:g}",
                "ControlNet window": f"{control.start:g}-{control.end:g}",
                "Guess mode": str(control.guess_mode),
            }
        )
    if t2i.is_active:
        pairs.update({"T2I-Adapter": t2i.kind, "T2I scale": f"{t2i.scale:g}", "T2I factor": f"{t2i.factor:g}"})
    reference = settings.reference_only
    if reference.is_active:
        pairs.update(
            {
                "Reference-only": reference.mode,
                "Ref fidelity": f"{reference.fidelity:g}",
                "Ref weight": f"{reference.weight:g}",
                "Ref window": f"{reference.start:g}-{reference.end:g}",
                "Ref fast": str(reference.fast),
            }
        )
    if settings.needs_control_image:
        if settings.control_is_map:
            pairs["Control map"] = "given"
        elif "canny" in (control.kind if control.is_active else "", t2i.kind if t2i.is_active else ""):
            pairs["Canny thresholds"] = f"{settings.canny_low}-{settings.canny_high}"
    return pairs


def _window(text: str) -> tuple[float, float]:
    start, _, end = text.partition("-")
    return float(start), float(end)


def parse_parameters(text: str) -> tuple[str, str, dict[str, str]]:
    """(prompt, negative prompt, key -> value) from a ``parameters`` text."""
    lines = text.strip("\n").split("\n")
    details = lines.pop() if lines and _PAIR.match(lines[-1]) and ": " in lines[-1] else ""
    negative_lines: list[str] = []
    prompt_lines: list[str] = []
    for line in lines:
        if line.startswith("Negative prompt:") or negative_lines:
            negative_lines.append(line.removeprefix("Negative prompt:").removeprefix(" "))
        else:
            prompt_lines.append(line)
    pairs = {}
    for key, value in _PAIR.findall(details):
        pairs[key.strip()] = json.loads(value) if value.startswith('"') else value.strip()
    prompt = pairs.pop(EXACT_PROMPT, "\n".join(prompt_lines))
    return prompt, pairs.pop(EXACT_NEGATIVE, "\n".join(negative_lines)), pairs


def settings_from_parameters(text: str) -> GenerationSettings:
    """Rebuild the settings a PNG was made with (the inverse of ``format_parameters``)."""
    prompt, negative, pairs = parse_parameters(text)
    width, _, height = pairs.get("Size", "512x512").partition("x")
    settings = GenerationSettings(
        prompt=prompt,
        negative_prompt=negative,
        seed=int(pairs.get("Seed", 0)),
        width=int(width),
        height=int(height),
        steps=int(pairs.get("Steps", 30)),
        guidance=float(pairs.get("CFG scale", 7.5)),
        scheduler=pairs.get("Sampler", GenerationSettings.scheduler),
        strength=float(pairs.get("Denoising strength", 0.75)),
    )
    settings = replace(settings, **_structure_settings(pairs))
    if "IP-Adapter" not in pairs:
        return replace(settings, ip=replace(settings.ip, scale=0.0))
    variants = {spec.key: name for name, spec in IP_ADAPTERS.items()}
    if pairs["IP-Adapter"] not in variants:
        raise SettingsError("ip_variant", f"unknown IP-Adapter {pairs['IP-Adapter']!r} in the PNG's parameters")
    variant = variants[pairs["IP-Adapter"]]
    stages = dict(item.split("=") for item in pairs.get("IP stages", "").split())
    start, end = _window(pairs.get("IP window", "0-1"))
    ip = IPAdapterSettings(
        scale=float(pairs["IP scale"]),
        variant=variant,
        mask=pairs["IP layers"],
        stage_weights=tuple(float(stages.get(stage, 1.0)) for stage in STAGE_NAMES),
        start=start,
        end=end,
        fit=pairs.get("IP fit", "crop"),  # type: ignore[arg-type]
    )
    return replace(settings, ip=ip)


def _structure_settings(pairs: dict[str, str]) -> dict[str, object]:
    changes: dict[str, object] = {}
    if "ControlNet" in pairs:
        start, end = _window(pairs.get("ControlNet window", "0-1"))
        changes["controlnet"] = ControlNetSettings(
            kind=pairs["ControlNet"],
            scale=float(pairs.get("ControlNet scale", 1.0)),
            start=start,
            end=end,
            guess_mode=pairs.get("Guess mode") == "True",
        )
    if "T2I-Adapter" in pairs:
        changes["t2i"] = T2IAdapterSettings(
            kind=pairs["T2I-Adapter"], scale=float(pairs.get("T2I scale", 1.0)), factor=float(pairs.get("T2I factor", 1.0))
        )
    if "Reference-only" in pairs:
        start, end = _window(pairs.get("Ref window", "0-1"))
        changes["reference_only"] = ReferenceOnlySettings(
            mode=pairs["Reference-only"],
            fidelity=float(pairs.get("Ref fidelity", 0.5)),
            weight=float(pairs.get("Ref weight", 1.0)),
            start=start,
            end=end,
            fast=pairs.get("Ref fast") == "True",
        )
    changes["control_is_map"] = pairs.get("Control map") == "given"
    if "Canny thresholds" in pairs:
        low, high = _window(pairs["Canny thresholds"])
        changes.update(canny_low=int(low), canny_high=int(high))
    return changes


def save_png(image: Image.Image, path: Path, parameters: str) -> Path:
    info = PngInfo()
    info.add_text("parameters", parameters)
    image.save(path, pnginfo=info)
    return path


def read_png_parameters(path: Path) -> str | None:
    with Image.open(path) as image:
        return image.info.get("parameters")
