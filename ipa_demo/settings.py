"""One typed, validated object per generation request.

A settings object that exists is valid: construction checks every field and raises
``SettingsError`` naming the first bad one. Nothing is clamped or rounded behind the user's back.
Server limits (largest size, most steps, ...) come from the environment and are checked apart,
with ``check_limits``, because the CLI on a user's own GPU may go further than a public Space.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields, replace
from typing import Literal

from .layers import MASK_PRESETS, NUM_LAYERS, STAGE_NAMES, layer_scales
from .schedulers import DEFAULT_SCHEDULER, SCHEDULER_NAMES

IP_VARIANTS: tuple[str, ...] = ("base", "light", "plus", "full-face")
STRUCTURE_KINDS: tuple[str, ...] = ("none", "canny", "depth")
REFERENCE_MODES: tuple[str, ...] = ("off", "attn", "adain", "attn+adain")
FIT_MODES: tuple[str, ...] = ("crop", "pad")
MAX_SEED = 2**32 - 1
MAX_IP_SCALE = 3.0


class SettingsError(ValueError):
    """A setting the engine cannot honour; ``field`` names it for the UI and CLI."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


def _require(condition: bool, field_name: str, message: str) -> None:
    if not condition:
        raise SettingsError(field_name, message)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float, such as 10**400
        return False


def shown(value: object) -> str:
    """A value as an error quotes it: an enormous number is not spelled out digit by digit."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}… ({len(text)} characters)"


def _check_text(value: object, field_name: str) -> None:
    _require(isinstance(value, str), field_name, "must be text")
    try:
        value.encode("utf-8")  # type: ignore[union-attr]
    except UnicodeEncodeError as error:  # a lone surrogate: from JSON "\ud800", or argv that is not UTF-8
        raise SettingsError(field_name, f"is not valid Unicode text (character {error.start + 1} cannot be encoded)") from None


def _check_float(value: object, field_name: str, low: float, high: float) -> None:
    _require(_is_number(value), field_name, f"must be a number, got {shown(value)}")
    _require(_is_finite(value), field_name, f"must be finite, got {shown(value)}")  # type: ignore[arg-type]
    _require(low <= value <= high, field_name, f"must be between {low:g} and {high:g}, got {shown(value)}")  # type: ignore[operator]


def _check_int(value: object, field_name: str, low: int, high: int) -> None:
    _require(isinstance(value, int) and not isinstance(value, bool), field_name, f"must be a whole number, got {shown(value)}")
    _require(low <= value <= high, field_name, f"must be between {low} and {high}, got {shown(value)}")  # type: ignore[operator]


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

    def __post_init__(self) -> None:
        _check_float(self.scale, "ip_scale", 0.0, MAX_IP_SCALE)
        _require(self.variant in IP_VARIANTS, "ip_variant", f"must be one of {', '.join(IP_VARIANTS)}, got {self.variant!r}")
        _require(
            isinstance(self.mask, str) and len(self.mask) == NUM_LAYERS and set(self.mask) <= {"0", "1"},
            "ip_layers",
            f"must be {NUM_LAYERS} characters of 0 and 1, got {self.mask!r}",
        )
        _require(
            isinstance(self.stage_weights, tuple) and len(self.stage_weights) == len(STAGE_NAMES),
            "ip_stages",
            f"needs one weight for each of {', '.join(STAGE_NAMES)}",
        )
        for stage, weight in zip(STAGE_NAMES, self.stage_weights):
            _check_float(weight, f"ip_stages.{stage}", 0.0, MAX_IP_SCALE)
        _check_float(self.start, "ip_start", 0.0, 1.0)
        _check_float(self.end, "ip_end", 0.0, 1.0)
        _require(self.start <= self.end, "ip_end", f"must not be before ip_start ({self.start:g})")
        _require(self.fit in FIT_MODES, "ip_fit", f"must be one of {', '.join(FIT_MODES)}, got {self.fit!r}")

    @property
    def layer_scales(self) -> tuple[float, ...]:
        return layer_scales(self.scale, self.mask, self.stage_weights)

    @property
    def uses_hidden_states(self) -> bool:
        """Plus and full-face read the encoder's penultimate hidden states, not its image embeds."""
        return self.variant in ("plus", "full-face")

    @property
    def is_active(self) -> bool:
        """Whether any layer gets image attention at any step."""
        return any(self.layer_scales) and self.start < self.end

    def with_preset(self, preset: str) -> IPAdapterSettings:
        _require(preset in MASK_PRESETS, "ip_preset", f"must be one of {', '.join(MASK_PRESETS)}, got {preset!r}")
        return replace(self, mask=MASK_PRESETS[preset])


def _check_window(start: float, end: float, prefix: str) -> None:
    _check_float(start, f"{prefix}_start", 0.0, 1.0)
    _check_float(end, f"{prefix}_end", 0.0, 1.0)
    _require(start <= end, f"{prefix}_end", f"must not be before {prefix}_start ({start:g})")


@dataclass(frozen=True)
class ControlNetSettings:
    """ControlNet v1.1 guidance from a canny or depth map of the control image."""

    kind: str = "none"
    scale: float = 1.0
    start: float = 0.0
    end: float = 1.0
    guess_mode: bool = False  # the ControlNet sees only the conditional half and scales its residuals

    def __post_init__(self) -> None:
        _require(self.kind in STRUCTURE_KINDS, "controlnet", f"must be one of {', '.join(STRUCTURE_KINDS)}, got {self.kind!r}")
        _check_float(self.scale, "controlnet_scale", 0.0, 2.0)
        _check_window(self.start, self.end, "controlnet")
        _require(isinstance(self.guess_mode, bool), "guess_mode", "must be true or false")

    @property
    def is_active(self) -> bool:
        return self.kind != "none" and self.scale > 0.0 and self.start < self.end


@dataclass(frozen=True)
class T2IAdapterSettings:
    """T2I-Adapter: features computed once from the map, added to the UNet's down blocks."""

    kind: str = "none"
    scale: float = 1.0
    factor: float = 1.0  # fraction of the steps (from the first) that get the features

    def __post_init__(self) -> None:
        _require(self.kind in STRUCTURE_KINDS, "t2i", f"must be one of {', '.join(STRUCTURE_KINDS)}, got {self.kind!r}")
        _check_float(self.scale, "t2i_scale", 0.0, 2.0)
        _check_float(self.factor, "t2i_factor", 0.0, 1.0)

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
        _require(self.mode in REFERENCE_MODES, "ref_only", f"must be one of {', '.join(REFERENCE_MODES)}, got {self.mode!r}")
        _check_float(self.fidelity, "ref_fidelity", 0.0, 1.0)
        _check_float(self.weight, "ref_weight", 0.0, 1.0)
        _check_window(self.start, self.end, "ref")
        _require(isinstance(self.fast, bool), "ref_fast", "must be true or false")

    @property
    def is_active(self) -> bool:
        return self.mode != "off" and self.weight > 0.0 and self.start < self.end


@dataclass(frozen=True)
class GenerationSettings:
    prompt: str
    negative_prompt: str = ""
    seed: int = 0
    width: int = 512
    height: int = 512
    steps: int = 30
    guidance: float = 7.5
    scheduler: str = DEFAULT_SCHEDULER
    num_images: int = 1
    strength: float = 0.75  # img2img only: how much of the init image is noised away
    ip: IPAdapterSettings = field(default_factory=IPAdapterSettings)
    controlnet: ControlNetSettings = field(default_factory=ControlNetSettings)
    t2i: T2IAdapterSettings = field(default_factory=T2IAdapterSettings)
    control_is_map: bool = False  # the control image is a ready canny/depth map: skip preprocessing
    canny_low: int = 100
    canny_high: int = 200
    reference_only: ReferenceOnlySettings = field(default_factory=ReferenceOnlySettings)

    def __post_init__(self) -> None:
        _check_text(self.prompt, "prompt")
        _check_text(self.negative_prompt, "negative_prompt")
        _check_int(self.seed, "seed", 0, MAX_SEED)
        for name in ("width", "height"):
            value = getattr(self, name)
            _check_int(value, name, 64, 8192)
            _require(value % 8 == 0, name, f"must be a multiple of 8, got {value}")
        _check_int(self.steps, "steps", 1, 1000)
        _check_float(self.guidance, "guidance", 1.0, 30.0)
        _require(
            self.scheduler in SCHEDULER_NAMES,
            "scheduler",
            f"must be one of {', '.join(SCHEDULER_NAMES)}, got {self.scheduler!r}",
        )
        _check_int(self.num_images, "num_images", 1, 64)
        _check_float(self.strength, "strength", 0.0, 1.0)
        _require(self.strength > 0.0, "strength", "must be above 0 (0 would run no denoising step)")
        _require(isinstance(self.ip, IPAdapterSettings), "ip", "must be IPAdapterSettings")
        _require(isinstance(self.controlnet, ControlNetSettings), "controlnet", "must be ControlNetSettings")
        _require(isinstance(self.t2i, T2IAdapterSettings), "t2i", "must be T2IAdapterSettings")
        _require(isinstance(self.reference_only, ReferenceOnlySettings), "ref_only", "must be ReferenceOnlySettings")
        _require(isinstance(self.control_is_map, bool), "control_map", "must be true or false")
        _check_int(self.canny_low, "canny_low", 0, 255)
        _check_int(self.canny_high, "canny_high", 0, 255)
        _require(self.canny_low <= self.canny_high, "canny_high", f"must not be below canny_low ({self.canny_low})")

    @property
    def needs_control_image(self) -> bool:
        return self.controlnet.is_active or self.t2i.is_active

    @property
    def image_seeds(self) -> tuple[int, ...]:
        """One seed per image, as A1111 numbers them: each image is reproducible on its own."""
        return tuple(self.seed + index for index in range(self.num_images))


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

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            _require(isinstance(value, int) and value >= 1, f"IPA_{spec.name.upper()}", f"must be at least 1, got {value!r}")

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
        _require(value <= limits.max_side, name, f"at most {limits.max_side} on this server, got {value}")
    _require(settings.steps <= limits.max_steps, "steps", f"at most {limits.max_steps} on this server, got {settings.steps}")
    _require(
        settings.num_images <= limits.max_images,
        "num_images",
        f"at most {limits.max_images} on this server, got {settings.num_images}",
    )
    for name in ("prompt", "negative_prompt"):
        length = len(getattr(settings, name))
        _require(length <= limits.max_prompt_chars, name, f"at most {limits.max_prompt_chars} characters, got {length}")
