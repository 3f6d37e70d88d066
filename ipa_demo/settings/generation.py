"""One typed, validated object per generation request.

A settings object that exists is valid: construction checks every field against its declaration
(``declarations.SETTINGS``) and the rules between fields, raising ``SettingsError`` naming the first
bad one. Nothing is clamped or rounded behind the user's back. Server limits (largest size, most
steps, ...) come from the environment and are checked apart, with ``check_limits``, because the CLI
on a user's own GPU may go further than a public Space.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Literal

from ..architecture.layers import (
    DEFAULT_ARCHITECTURE,
    MASK_PRESETS,
    NUM_LAYERS,
    STAGE_NAMES,
    layer_scales,
    weights_from_mask,
)
from ..architecture.lengths import MASK_LENGTHS, WEIGHT_COUNTS, known_mask_lengths, known_weight_counts
from ..schedulers import DEFAULT_SCHEDULER
from .checks import (
    SettingsError,
    check_choice,
    check_flag,
    check_float,
    check_floats,
    check_int,
    check_text,
    require,
    shown,
)
from .declarations import SETTINGS, Setting, label_of


def _check(setting: Setting, value: object) -> None:
    name = setting.name
    if setting.kind == "text":
        check_text(value, name)
    elif setting.kind == "float":
        check_float(value, name, setting.low, setting.high)  # type: ignore[arg-type]
    elif setting.kind == "int":
        check_int(value, name, int(setting.low), int(setting.high))  # type: ignore[arg-type]
    elif setting.kind == "choice":
        check_choice(value, name, setting.choices)
    elif setting.kind == "flag":
        check_flag(value, name)
    elif setting.kind == "floats":
        expected = known_weight_counts("numbers") if setting.counts == WEIGHT_COUNTS else ""
        check_floats(value, name, setting.low, setting.high, setting.counts, expected)  # type: ignore[arg-type]
    else:  # mask: one bit per attention module of some model (``architecture.lengths``)
        require(
            isinstance(value, str) and len(value) in MASK_LENGTHS and set(value) <= {"0", "1"},
            name,
            f"must be one 0 or 1 per attention module ({known_mask_lengths()}), got {shown(value)}",
        )


def check_declared(settings: object, section: str) -> None:
    """Check each declared setting of ``section`` ("" for the top level) held by ``settings``."""
    for setting in SETTINGS:
        if setting.section != section:
            continue
        value = settings
        for part in setting.path[1:] if section else setting.path:
            value = value[part] if isinstance(part, int) else getattr(value, part)  # type: ignore[index]
        _check(setting, value)


def _check_one_stage_weight(stage_weights: tuple[float, ...], bits: int) -> None:
    for name, weight in zip(STAGE_NAMES, stage_weights, strict=True):
        require(weight == stage_weights[0], f"ip_stage_{name}",
                f"names an SD 1.5 stage, but the layer mask has {bits} bits (another model's attention modules): "
                f"give every stage the same weight, or {label_of('ip_weights').lower()} instead")  # fmt: skip


def _check_window(start: float, end: float, prefix: str) -> None:
    require(start <= end, f"{prefix}_end", f"must not be before {label_of(prefix + '_start')} ({start:g})")


@dataclass(frozen=True)
class IPAdapterSettings:
    """How strongly, where and when the reference image steers the UNet."""

    scale: float = 0.7
    variant: str = "base"
    mask: str = MASK_PRESETS["all"]  # one bit per cross-attention layer, execution order
    stage_weights: tuple[float, ...] = (1.0,) * len(STAGE_NAMES)
    start: float = 0.0  # fraction of the denoising steps
    end: float = 1.0
    fit: Literal["crop", "pad"] = "crop"  # how a non-square reference becomes square for CLIP
    layer_weights: tuple[float, ...] = ()  # one per layer, execution order; () : mask × stage weights
    reference_weights: tuple[float, ...] = ()  # one per reference; (): 1 each
    combine: Literal["average", "concat"] = "average"  # several references without region masks

    def __post_init__(self) -> None:
        require(
            isinstance(self.stage_weights, tuple) and len(self.stage_weights) == len(STAGE_NAMES),
            f"ip_stage_{STAGE_NAMES[0]}",
            f"needs one weight for each of {', '.join(STAGE_NAMES)}",
        )
        check_declared(self, "ip")
        _check_window(self.start, self.end, "ip")
        if len(self.mask) != NUM_LAYERS and not self.layer_weights:
            _check_one_stage_weight(self.stage_weights, len(self.mask))

    @property
    def weights(self) -> tuple[float, ...]:
        """The per-layer weights: as given, or filled from the mask and stage weights (shorthands).

        The stage weights name SD 1.5's stages: another model's mask (SDXL's 11 bits) takes one weight for all."""
        if self.layer_weights:
            return self.layer_weights
        if len(self.mask) == NUM_LAYERS:
            return weights_from_mask(self.mask, self.stage_weights)
        return tuple(self.stage_weights[0] if bit == "1" else 0.0 for bit in self.mask)

    @property
    def layer_scales(self) -> tuple[float, ...]:
        return layer_scales(self.scale, self.weights)

    @property
    def is_active(self) -> bool:
        """Whether any layer gets image attention at any step, from any reference."""
        references_act = not self.reference_weights or any(self.reference_weights)
        return any(self.layer_scales) and self.start < self.end and references_act

    def with_preset(self, preset: str) -> IPAdapterSettings:
        require(preset in MASK_PRESETS, "ip_preset", f"must be one of {', '.join(MASK_PRESETS)}, got {preset!r}")
        return replace(self, mask=MASK_PRESETS[preset])


@dataclass(frozen=True)
class ControlNetSettings:
    """ControlNet v1.1 guidance from a map of the control image (canny, depth, pose, ...)."""

    kind: str = "none"
    scale: float = 1.0
    start: float = 0.0
    end: float = 1.0
    guess_mode: bool = False  # the ControlNet sees only the conditional half and scales its residuals
    soft: bool = False  # soft injection: the A1111 extension's per-block factors (structure/controlnet.py)
    is_map: bool = False  # a further unit's picture is a ready map (Module: none); the first unit's: control_is_map

    def __post_init__(self) -> None:
        check_declared(self, "controlnet")
        _check_window(self.start, self.end, "controlnet")

    @property
    def is_active(self) -> bool:
        return self.kind != "none" and self.scale > 0.0 and self.start < self.end


@dataclass(frozen=True)
class T2IAdapterSettings:
    """T2I-Adapter: features computed once from the map, added to the UNet's down blocks."""

    kind: str = "none"
    scale: float = 1.0
    factor: float = 1.0  # fraction of the steps (from the first) that get the features
    soft: bool = False  # soft injection: the A1111 extension's per-level factors (structure/t2i_adapter.py)
    is_map: bool = False  # a further unit's picture is a ready map (Module: none); the first unit's: control_is_map

    def __post_init__(self) -> None:
        check_declared(self, "t2i")

    @property
    def is_active(self) -> bool:
        return self.kind != "none" and self.scale > 0.0 and self.factor > 0.0


@dataclass(frozen=True)
class ReferenceOnlySettings:
    """A1111's reference-only: the UNet also attends to a re-noised copy of the reference."""

    mode: str = "off"
    fidelity: float = 0.5  # style fidelity: 1 follows the reference in both CFG halves
    weight: float = 1.0
    start: float = 0.0
    end: float = 1.0
    fast: bool = False  # the reference as one extra row of each step's UNet call (approximate), not its own call

    def __post_init__(self) -> None:
        check_declared(self, "reference_only")
        _check_window(self.start, self.end, "ref")

    @property
    def is_active(self) -> bool:
        return self.mode != "off" and self.weight > 0.0 and self.start < self.end


SECTIONS = {
    "ip": IPAdapterSettings,
    "ip2": IPAdapterSettings,  # a second adapter unit: the same settings, named ip2_* where declared
    "controlnet": ControlNetSettings,
    "t2i": T2IAdapterSettings,
    "reference_only": ReferenceOnlySettings,
}
MORE_UNITS = {
    "more_ip_units": IPAdapterSettings,
    "more_controlnet_units": ControlNetSettings,
    "more_t2i_units": T2IAdapterSettings,
}


@dataclass(frozen=True)
class GenerationSettings:
    prompt: str
    negative_prompt: str = ""
    seed: int = 0
    width: int = DEFAULT_ARCHITECTURE.default_size
    height: int = DEFAULT_ARCHITECTURE.default_size
    steps: int = 30
    guidance: float = 7.5
    scheduler: str = DEFAULT_SCHEDULER
    num_images: int = 1
    strength: float = 0.75  # img2img only: how much of the init image is noised away
    ip: IPAdapterSettings = field(default_factory=IPAdapterSettings)
    controlnet: ControlNetSettings = field(default_factory=ControlNetSettings)
    t2i: T2IAdapterSettings = field(default_factory=T2IAdapterSettings)
    control_is_map: bool = False  # the control image is a ready map: skip preprocessing
    canny_low: int = 100
    canny_high: int = 200
    reference_only: ReferenceOnlySettings = field(default_factory=ReferenceOnlySettings)
    ip2: IPAdapterSettings = field(default_factory=lambda: IPAdapterSettings(scale=0.0))  # off unless given λ
    base_model: str = ""  # one of the server's base models by name; "": its first (``base_models``)
    # Units after the ones above (``ip`` and ``ip2``, ``controlnet``, ``t2i``), in the order they act;
    # their images travel beside the settings in ``units.UnitImages``, one entry per unit here.
    more_ip_units: tuple[IPAdapterSettings, ...] = ()
    more_controlnet_units: tuple[ControlNetSettings, ...] = ()
    more_t2i_units: tuple[T2IAdapterSettings, ...] = ()

    def __post_init__(self) -> None:
        for section, kind in SECTIONS.items():
            require(isinstance(getattr(self, section), kind), section, f"must be {kind.__name__}")
        for name, kind in MORE_UNITS.items():
            units = getattr(self, name)
            require(isinstance(units, tuple) and all(isinstance(unit, kind) for unit in units), name,
                    f"must be a tuple of {kind.__name__}")  # fmt: skip
        for number, unit in enumerate(self.more_controlnet_units, start=2):
            require(not unit.guess_mode, f"controlnet_unit_{number}",
                    f"guess_mode: one switch for the request: set it with {label_of('guess_mode')}")  # fmt: skip
        for section in ("controlnet", "t2i"):
            require(not getattr(self, section).is_map, section,
                    f"is_map is for further units; the first unit's control image is a map with {label_of('control_is_map')}")  # fmt: skip
        check_declared(self, "")
        for name in ("width", "height"):
            value = getattr(self, name)
            require(value % 8 == 0, name, f"must be a multiple of 8, got {value}")
        require(self.strength > 0.0, "strength", "must be above 0 (0 would run no denoising step)")
        require(self.canny_low <= self.canny_high, "canny_high", f"must not be below {label_of('canny_low')} ({self.canny_low})")

    @property
    def needs_control_image(self) -> bool:
        """Whether the first ControlNet or T2I unit acts: they read the request's control image."""
        return self.controlnet.is_active or self.t2i.is_active

    @property
    def ip_units(self) -> tuple[IPAdapterSettings, ...]:
        """Every IP-Adapter unit given, first to last; ``ip2`` counts when it acts or others follow it."""
        second = (self.ip2,) if self.ip2.is_active or self.more_ip_units else ()
        return (self.ip, *second, *self.more_ip_units)

    @property
    def controlnet_units(self) -> tuple[ControlNetSettings, ...]:
        return (self.controlnet, *self.more_controlnet_units)

    @property
    def t2i_units(self) -> tuple[T2IAdapterSettings, ...]:
        return (self.t2i, *self.more_t2i_units)

    @property
    def guess_mode(self) -> bool:
        """One switch for the whole request, held by the first ControlNet unit (as the API names it)."""
        return self.controlnet.guess_mode

    @property
    def image_seeds(self) -> tuple[int, ...]:
        """One seed per image, as A1111 numbers them: each image is reproducible on its own."""
        return tuple(self.seed + index for index in range(self.num_images))


def check_inputs(
    settings: GenerationSettings,
    references: Sequence[object],
    init_image: object | None,
    control_image: object | None = None,
) -> None:
    """What a request needs besides valid settings; cheap, so callers check before loading models."""
    if settings.ip.is_active and not references:
        raise SettingsError("reference_images", "IP-Adapter needs a reference image (or set λ to 0)")
    weights = settings.ip.reference_weights
    if settings.ip.is_active and weights and len(weights) != len(references):
        raise SettingsError(
            "reference_weights", f"needs one weight per reference image ({len(references)}), got {len(weights)}"
        )
    if init_image is not None and int(settings.steps * settings.strength) < 1:
        raise SettingsError("strength", f"{settings.strength:g} × {settings.steps} steps leaves no step to run")
    if settings.reference_only.is_active and not references:
        raise SettingsError("reference_images", "reference-only needs a reference image")
    if settings.needs_control_image and control_image is None:
        raise SettingsError("control_image", "ControlNet and T2I-Adapter need a control image")


@dataclass(frozen=True)
class Limits:
    """What this server accepts; a public Space sets these lower than a local GPU needs."""

    max_side: int = 1024
    max_steps: int = 150
    max_images: int = 8
    max_prompt_chars: int = 4000
    # The memory budget of a request's input images, checked from their headers before decoding.
    max_references: int = 8
    max_input_images: int = 10  # references, init image and control image together
    max_request_pixels: int = 80_000_000  # decoded pixels of all input images together (two 40-MP photos)
    max_sweep_cells: int = 32  # generations one sweep may ask for (the layer atlas is one per layer)
    max_units: int = 4  # units of each kind (IP-Adapter, ControlNet, T2I-Adapter) one request may give

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            require(isinstance(value, int) and value >= 1, f"IPA_{spec.name.upper()}", f"must be at least 1, got {value!r}")

    @classmethod
    def from_env(cls) -> Limits:
        values = {}
        for spec in fields(cls):
            raw = os.environ.get(f"IPA_{spec.name.upper()}")
            if raw is not None:
                values[spec.name] = int(raw)
        return cls(**values)


def check_limits(settings: GenerationSettings, limits: Limits) -> None:
    for name in ("width", "height"):
        value = getattr(settings, name)
        require(value <= limits.max_side, name, f"at most {limits.max_side} on this server, got {value}")
    require(settings.steps <= limits.max_steps, "steps", f"at most {limits.max_steps} on this server, got {settings.steps}")
    require(
        settings.num_images <= limits.max_images,
        "num_images",
        f"at most {limits.max_images} on this server, got {settings.num_images}",
    )
    for name in ("prompt", "negative_prompt"):
        length = len(getattr(settings, name))
        require(length <= limits.max_prompt_chars, name, f"at most {limits.max_prompt_chars} characters, got {length}")
    for kind, units in (("ip", settings.ip_units), ("controlnet", settings.controlnet_units), ("t2i", settings.t2i_units)):
        require(len(units) <= limits.max_units, f"{kind}_units",
                f"at most {limits.max_units} units of a kind on this server (IPA_MAX_UNITS), got {len(units)}")  # fmt: skip
