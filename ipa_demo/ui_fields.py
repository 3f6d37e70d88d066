"""The request as the web app and its API see it: one flat set of named values, and settings from it.

Every input of ``/generate`` and ``/compare`` is named here, after the setting it fills, so that
``gradio_client`` callers write ``client.predict(prompt=..., ip_scale=..., api_name="/generate")``.
This module holds no Gradio component: it turns values into a validated ``Request`` and back,
so the rules are tested without a browser.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from .cache import LRUCache
from .engine import check_inputs
from .images import ImageInputError, load_image, max_aspect_ratio, max_pixels
from .input_budget import check_budget, decode_slot, read_header
from .layers import MASK_PRESETS, NUM_LAYERS, STAGE_NAMES
from .settings import (
    MAX_SEED,
    ControlNetSettings,
    GenerationSettings,
    IPAdapterSettings,
    Limits,
    ReferenceOnlySettings,
    SettingsError,
    T2IAdapterSettings,
    check_limits,
    shown,
)

RANDOM_SEED = -1  # A1111's convention: -1 asks for a fresh random seed
STAGE_PARAMS: tuple[str, ...] = tuple(f"ip_stage_{stage}" for stage in STAGE_NAMES)
IMAGE_PARAMS: tuple[str, ...] = ("reference_images", "init_image", "control_image")

# The API's parameter names, in the order the endpoints list them.
PARAMS: tuple[str, ...] = (
    "prompt",
    "negative_prompt",
    "reference_images",
    "ip_scale",
    "ip_layers",
    *STAGE_PARAMS,
    "ip_start",
    "ip_end",
    "ip_variant",
    "ip_fit",
    "control_image",
    "control_is_map",
    "canny_low",
    "canny_high",
    "controlnet",
    "controlnet_scale",
    "controlnet_start",
    "controlnet_end",
    "guess_mode",
    "t2i",
    "t2i_scale",
    "t2i_factor",
    "init_image",
    "strength",
    "ref_only",
    "ref_fidelity",
    "ref_weight",
    "ref_start",
    "ref_end",
    "ref_fast",
    "steps",
    "guidance",
    "scheduler",
    "width",
    "height",
    "num_images",
    "seed",
)

# SettingsError.field values that are not parameter names themselves.
_FIELD_ALIASES: Mapping[str, str] = {
    "control_map": "control_is_map",
    "ip_preset": "ip_layers",
    "ip_stages": STAGE_PARAMS[0],
    **{f"ip_stages.{stage}": param for stage, param in zip(STAGE_NAMES, STAGE_PARAMS)},
}


@dataclass(frozen=True)
class Request:
    """What one click asks the engine for: validated settings and the decoded images."""

    settings: GenerationSettings
    references: tuple[Image.Image, ...]
    init_image: Image.Image | None
    control_image: Image.Image | None


def param_for_field(field: str) -> str | None:
    """The API parameter a ``SettingsError`` is about, or None if it is about no single one."""
    name = _FIELD_ALIASES.get(field, field)
    return name if name in PARAMS else None


def _whole(value: Any, name: str) -> int:
    """Sliders deliver floats; a whole-number setting accepts 4.0 but not 4.5."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # a range check follows; an enormous int fails it by name
    if not isinstance(value, float) or not math.isfinite(value) or value != int(value):
        raise SettingsError(name, f"must be a whole number, got {shown(value)}")
    return int(value)


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(name, f"must be a number, got {shown(value)}")
    try:
        return float(value)
    except OverflowError:  # 10**400 from JSON
        raise SettingsError(name, f"must be finite, got {shown(value)}") from None


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(name, f"must be true or false, got {value!r}")
    return value


def resolve_seed(seed: Any, rng: random.Random | None = None) -> int:
    """The seed to use: the one given, or a random one for -1."""
    chosen = _whole(seed, "seed")
    if chosen == RANDOM_SEED:
        return (rng or random.SystemRandom()).randint(0, MAX_SEED)
    return chosen


def _check_present(values: Mapping[str, Any]) -> None:
    missing = [name for name in PARAMS if name not in values and name not in IMAGE_PARAMS]
    if missing:
        raise SettingsError(missing[0], "is missing")


def settings_from_values(values: Mapping[str, Any], seed: int) -> GenerationSettings:
    """Build the settings; raises ``SettingsError`` naming the first bad parameter."""
    _check_present(values)
    ip = IPAdapterSettings(
        scale=_number(values["ip_scale"], "ip_scale"),
        variant=values["ip_variant"],
        mask=values["ip_layers"],
        stage_weights=tuple(_number(values[name], name) for name in STAGE_PARAMS),
        start=_number(values["ip_start"], "ip_start"),
        end=_number(values["ip_end"], "ip_end"),
        fit=values["ip_fit"],
    )
    controlnet = ControlNetSettings(
        kind=values["controlnet"],
        scale=_number(values["controlnet_scale"], "controlnet_scale"),
        start=_number(values["controlnet_start"], "controlnet_start"),
        end=_number(values["controlnet_end"], "controlnet_end"),
        guess_mode=_flag(values["guess_mode"], "guess_mode"),
    )
    t2i = T2IAdapterSettings(
        kind=values["t2i"],
        scale=_number(values["t2i_scale"], "t2i_scale"),
        factor=_number(values["t2i_factor"], "t2i_factor"),
    )
    reference_only = ReferenceOnlySettings(
        mode=values["ref_only"],
        fidelity=_number(values["ref_fidelity"], "ref_fidelity"),
        weight=_number(values["ref_weight"], "ref_weight"),
        start=_number(values["ref_start"], "ref_start"),
        end=_number(values["ref_end"], "ref_end"),
        fast=_flag(values["ref_fast"], "ref_fast"),
    )
    return GenerationSettings(
        prompt=values["prompt"] if values["prompt"] is not None else "",
        negative_prompt=values["negative_prompt"] if values["negative_prompt"] is not None else "",
        seed=seed,
        width=_whole(values["width"], "width"),
        height=_whole(values["height"], "height"),
        steps=_whole(values["steps"], "steps"),
        guidance=_number(values["guidance"], "guidance"),
        scheduler=values["scheduler"],
        num_images=_whole(values["num_images"], "num_images"),
        strength=_number(values["strength"], "strength"),
        ip=ip,
        controlnet=controlnet,
        t2i=t2i,
        control_is_map=_flag(values["control_is_map"], "control_is_map"),
        canny_low=_whole(values["canny_low"], "canny_low"),
        canny_high=_whole(values["canny_high"], "canny_high"),
        reference_only=reference_only,
    )


def values_from_settings(settings: GenerationSettings) -> dict[str, Any]:
    """Every non-image parameter's value for these settings (the inverse of ``settings_from_values``)."""
    ip, controlnet, t2i, ref = settings.ip, settings.controlnet, settings.t2i, settings.reference_only
    return {
        "prompt": settings.prompt,
        "negative_prompt": settings.negative_prompt,
        "ip_scale": ip.scale,
        "ip_layers": ip.mask,
        **dict(zip(STAGE_PARAMS, ip.stage_weights)),
        "ip_start": ip.start,
        "ip_end": ip.end,
        "ip_variant": ip.variant,
        "ip_fit": ip.fit,
        "control_is_map": settings.control_is_map,
        "canny_low": settings.canny_low,
        "canny_high": settings.canny_high,
        "controlnet": controlnet.kind,
        "controlnet_scale": controlnet.scale,
        "controlnet_start": controlnet.start,
        "controlnet_end": controlnet.end,
        "guess_mode": controlnet.guess_mode,
        "t2i": t2i.kind,
        "t2i_scale": t2i.scale,
        "t2i_factor": t2i.factor,
        "strength": settings.strength,
        "ref_only": ref.mode,
        "ref_fidelity": ref.fidelity,
        "ref_weight": ref.weight,
        "ref_start": ref.start,
        "ref_end": ref.end,
        "ref_fast": ref.fast,
        "steps": settings.steps,
        "guidance": settings.guidance,
        "scheduler": settings.scheduler,
        "width": settings.width,
        "height": settings.height,
        "num_images": settings.num_images,
        "seed": settings.seed,
    }


def default_values() -> dict[str, Any]:
    """What the controls show on a fresh page: the engine's defaults, a random seed, no images."""
    values = values_from_settings(GenerationSettings(prompt=""))
    values.update(seed=RANDOM_SEED, reference_images=None, init_image=None, control_image=None)
    return values


def _gallery_paths(value: Any) -> list[str]:
    """A gallery input arrives as [(path, caption), ...] or None; API callers may send plain paths."""
    if not value:
        return []
    return [str(item[0] if isinstance(item, (tuple, list)) else item) for item in value]


# The validator decodes each upload before the request is queued, then the handler parses the same
# request again: keyed by the file's identity, the second parse reuses the first decode. Gradio writes
# an upload once and never changes it; a file that did change has another key.
_decoded_uploads: LRUCache[Image.Image] = LRUCache(4)


def _decode(file: Path, name: str) -> Image.Image:
    try:
        status = file.stat()
    except OSError:
        return load_image(file, name)  # which says what is wrong with it
    key = (str(file.resolve()), status.st_mtime_ns, status.st_size, name, max_pixels(), max_aspect_ratio())
    return _decoded_uploads.get_or_make(key, lambda: load_image(file, name))


@contextmanager
def _named_after(name: str, path: str) -> Iterator[None]:
    """An image's error as a ``SettingsError`` naming the input and the file, never the server's path."""
    try:
        yield
    except ImageInputError as error:
        reason = str(error).removeprefix(f"{name}: ").replace(str(Path(path)), Path(path).name)
        raise SettingsError(name, reason) from None


def _image_inputs(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(input name, path) for every image the request names, references first."""
    named = [("reference_images", path) for path in _gallery_paths(values.get("reference_images"))]
    named += [(name, values[name]) for name in ("init_image", "control_image") if values.get(name) is not None]
    return named


def _decode_within_budget(values: Mapping[str, Any], limits: Limits) -> dict[str, list[Image.Image]]:
    """The request's images by input name, decoded only once their headers fit the budget."""
    named = _image_inputs(values)
    headers = []
    for name, path in named:
        with _named_after(name, path):
            headers.append(read_header(Path(path), name))
    check_budget(headers, limits)
    images: dict[str, list[Image.Image]] = {}
    with decode_slot():
        for name, path in named:
            with _named_after(name, path):
                images.setdefault(name, []).append(_decode(Path(path), name))
    return images


def parse_request(values: Mapping[str, Any], limits: Limits, seed: int | None = None) -> Request:
    """Settings and images from the raw values, checked as far as possible without a model.

    ``seed`` overrides the seed parameter (the handler resolves -1 once, so that what it reports
    is what it used); without it a -1 seed is resolved here.
    """
    _check_present(values)
    settings = settings_from_values(values, resolve_seed(values["seed"]) if seed is None else seed)
    check_limits(settings, limits)
    images = _decode_within_budget(values, limits)
    references = tuple(images.get("reference_images", ()))
    init_image = next(iter(images.get("init_image", ())), None)
    control_image = next(iter(images.get("control_image", ())), None)
    check_inputs(settings, references, init_image, control_image)
    return Request(settings, references, init_image, control_image)


def mask_from_bits(bits: Sequence[bool]) -> str:
    if len(bits) != NUM_LAYERS:
        raise ValueError(f"a mask has {NUM_LAYERS} bits, got {len(bits)}")
    return "".join("1" if bit else "0" for bit in bits)


def bits_from_mask(mask: str) -> list[bool] | None:
    """The toggles for a mask text, or None while the text is not (yet) a valid mask."""
    if not isinstance(mask, str) or len(mask) != NUM_LAYERS or set(mask) - {"0", "1"}:
        return None
    return [bit == "1" for bit in mask]


def preset_of(mask: str) -> str | None:
    """The preset's name when a mask is exactly one of them."""
    return next((name for name, bits in MASK_PRESETS.items() if bits == mask), None)
