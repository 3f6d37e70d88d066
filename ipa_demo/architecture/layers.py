"""The layer grid over an architecture's cross-attention modules: stages, named masks, weight curves.

Everything here is in *execution order* (down blocks, mid block, up blocks), the order in which a
user reads a UNet diagram. Checkpoints and ``unet.attn_processors`` use another order (mid last):
``TransformerBlock.checkpoint_id`` in the architecture description maps between the two.

The module-level names describe the default architecture (``SD15``), which settings, the CLI and the
UI use before any model is loaded; the functions take any ``Architecture``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

from . import KNOWN, SD15, Architecture

DEFAULT_ARCHITECTURE = SD15


def stage_layers(architecture: Architecture) -> MappingProxyType[str, tuple[int, ...]]:
    """Stage name -> the execution-order indices of its layers."""
    return MappingProxyType({stage.name: stage.modules for stage in architecture.stages})


def _mask_of(architecture: Architecture, modules: set[int]) -> str:
    return "".join("1" if index in modules else "0" for index in range(len(architecture.modules)))


def mask_presets(architecture: Architecture) -> MappingProxyType[str, str]:
    """Named masks; style and composition are InstantStyle's choice for the architecture's family."""
    style, composition = set(architecture.style), set(architecture.composition)
    return MappingProxyType(
        {
            "all": _mask_of(architecture, set(range(len(architecture.modules)))),
            "style": _mask_of(architecture, style),
            "composition": _mask_of(architecture, composition),
            "style+composition": _mask_of(architecture, style | composition),
            "none": _mask_of(architecture, set()),
        }
    )


# Curves over the attention modules in execution order; the UI and the CLI's --ip-curve fill the per-layer
# weights with them. Rounded to 0.01 so that they read well in the weight grid.
CURVE_FORMULAS: MappingProxyType[str, str] = MappingProxyType(
    {
        "ease in": "x²",
        "ease out": "(1 − x)²",
        "weak middle": "(2x − 1)²",
        "strong middle": "1 − (2x − 1)²",
    }
)
_CURVES: dict[str, Callable[[float], float]] = {
    "ease in": lambda x: x * x,
    "ease out": lambda x: (1 - x) ** 2,
    "weak middle": lambda x: (2 * x - 1) ** 2,
    "strong middle": lambda x: 1 - (2 * x - 1) ** 2,
}


def weight_curves(architecture: Architecture) -> MappingProxyType[str, tuple[float, ...]]:
    """A weight per attention module from each formula over x = index / (modules − 1), the module's place in
    execution order: 0 at the UNet's input (its first down module), 1 at its output (its last up module).
    SD 1.5 has 16 modules (x steps by 1/15), SDXL 11 (x steps by 1/10, whatever a module's block count)."""
    last = len(architecture.modules) - 1
    return MappingProxyType(
        {
            name: tuple(round(formula(index / last), 2) + 0.0 for index in range(last + 1))
            for name, formula in _CURVES.items()
        }
    )


def curve_name(weights: tuple[float, ...]) -> str | None:
    """The named curve that ``weights`` are on one of the known architectures, if any."""
    for known in KNOWN:
        found = next((name for name, curve in weight_curves(known).items() if curve == tuple(weights)), None)
        if found is not None:
            return found
    return None


def model_weights(weights: tuple[float, ...], architecture: Architecture) -> tuple[float, ...] | None:
    """Per-layer weights in ``architecture``'s terms: its own lengths (one per module, or one per transformer
    block) as given; another model's named curve as this model's curve (a curve carries over by its name, as
    a named mask does); else None."""
    if len(weights) in (len(architecture.modules), len(architecture.blocks)):
        return tuple(weights)
    name = curve_name(weights)
    return None if name is None else weight_curves(architecture)[name]


CROSS_ATTENTION_LAYERS: tuple[str, ...] = DEFAULT_ARCHITECTURE.module_names
NUM_LAYERS = len(CROSS_ATTENTION_LAYERS)
STAGES = stage_layers(DEFAULT_ARCHITECTURE)
STAGE_NAMES: tuple[str, ...] = DEFAULT_ARCHITECTURE.stage_names
STAGE_OF_LAYER: tuple[str, ...] = DEFAULT_ARCHITECTURE.stage_of_module
MASK_PRESETS = mask_presets(DEFAULT_ARCHITECTURE)
WEIGHT_CURVES = weight_curves(DEFAULT_ARCHITECTURE)


def weights_from_mask(
    mask: str, stage_weights: tuple[float, ...], architecture: Architecture = DEFAULT_ARCHITECTURE
) -> tuple[float, ...]:
    """The per-layer weights the shorthands stand for: stage weight × mask bit."""
    weight_of_stage = dict(zip(architecture.stage_names, stage_weights, strict=True))
    stage_of = architecture.stage_of_module
    return tuple(weight_of_stage[stage_of[index]] if bit == "1" else 0.0 for index, bit in enumerate(mask))


def layer_scales(scale: float, weights: tuple[float, ...]) -> tuple[float, ...]:
    """λ × the layer's weight, in execution order."""
    return tuple(scale * weight for weight in weights)


def diffusers_scale_dict(
    scales: tuple[float, ...], architecture: Architecture = DEFAULT_ARCHITECTURE
) -> dict[str, object]:
    """The same per-layer scales as the dict diffusers' ``set_ip_adapter_scale`` takes.

    Used to hold our masks to diffusers in parity tests. Every block with attention is named
    explicitly, since diffusers gives 0.0 to anything left out.
    """
    down: dict[str, list[float]] = {}
    up: dict[str, list[float]] = {}
    mid = 0.0
    for module, value in zip(architecture.modules, scales, strict=True):
        stage = architecture.stage(module.stage)
        if stage.direction == "mid":
            mid = value
        else:
            target = down if stage.direction == "down" else up
            target.setdefault(f"block_{stage.block.rpartition('.')[2]}", []).append(value)
    return {"down": down, "mid": mid, "up": up}
