"""The 16 cross-attention layers of the SD1.5 UNet, the 7 stages they sit in, and named masks.

Everything here is in *execution order* (down blocks, mid block, up blocks), the order in which a
user reads a UNet diagram. Checkpoints and ``unet.attn_processors`` use another order (mid last);
``weights.py`` maps between the two by layer name, never by position.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

CROSS_ATTENTION_LAYERS: tuple[str, ...] = (
    "down_blocks.0.attentions.0",
    "down_blocks.0.attentions.1",
    "down_blocks.1.attentions.0",
    "down_blocks.1.attentions.1",
    "down_blocks.2.attentions.0",
    "down_blocks.2.attentions.1",
    "mid_block.attentions.0",
    "up_blocks.1.attentions.0",
    "up_blocks.1.attentions.1",
    "up_blocks.1.attentions.2",
    "up_blocks.2.attentions.0",
    "up_blocks.2.attentions.1",
    "up_blocks.2.attentions.2",
    "up_blocks.3.attentions.0",
    "up_blocks.3.attentions.1",
    "up_blocks.3.attentions.2",
)
NUM_LAYERS = len(CROSS_ATTENTION_LAYERS)

# Stage name -> the execution-order indices of its layers.
STAGES: MappingProxyType[str, tuple[int, ...]] = MappingProxyType(
    {
        "down0": (0, 1),
        "down1": (2, 3),
        "down2": (4, 5),
        "mid": (6,),
        "up1": (7, 8, 9),
        "up2": (10, 11, 12),
        "up3": (13, 14, 15),
    }
)
STAGE_NAMES: tuple[str, ...] = tuple(STAGES)
STAGE_OF_LAYER: tuple[str, ...] = tuple(
    next(stage for stage, layers in STAGES.items() if index in layers) for index in range(NUM_LAYERS)
)


def _mask_of(*stages: str) -> str:
    chosen = {index for stage in stages for index in STAGES[stage]}
    return "".join("1" if index in chosen else "0" for index in range(NUM_LAYERS))


# InstantStyle's SD1.5 choice: style lives in up_blocks.1, composition in down_blocks.2.
MASK_PRESETS: MappingProxyType[str, str] = MappingProxyType(
    {
        "all": _mask_of(*STAGE_NAMES),
        "style": _mask_of("up1"),
        "composition": _mask_of("down2"),
        "style+composition": _mask_of("down2", "up1"),
        "none": _mask_of(),
    }
)


def _curve(formula: Callable[[float], float]) -> tuple[float, ...]:
    """A weight per layer from a formula over x = position / 15 (0 at the UNet's input, 1 at its output)."""
    return tuple(round(formula(index / (NUM_LAYERS - 1)), 2) + 0.0 for index in range(NUM_LAYERS))


# Curves over the 16 layers in execution order; the UI and the CLI's --ip-curve fill the per-layer
# weights with them. Rounded to 0.01 so that they read well in the weight grid.
CURVE_FORMULAS: MappingProxyType[str, str] = MappingProxyType(
    {
        "ease in": "x²",
        "ease out": "(1 − x)²",
        "weak middle": "(2x − 1)²",
        "strong middle": "1 − (2x − 1)²",
    }
)
WEIGHT_CURVES: MappingProxyType[str, tuple[float, ...]] = MappingProxyType(
    {
        "ease in": _curve(lambda x: x * x),
        "ease out": _curve(lambda x: (1 - x) ** 2),
        "weak middle": _curve(lambda x: (2 * x - 1) ** 2),
        "strong middle": _curve(lambda x: 1 - (2 * x - 1) ** 2),
    }
)


def processor_name(layer: str) -> str:
    """The key of a layer's image cross-attention in ``unet.attn_processors``."""
    return f"{layer}.transformer_blocks.0.attn2.processor"


def weights_from_mask(mask: str, stage_weights: tuple[float, ...]) -> tuple[float, ...]:
    """The 16 per-layer weights the shorthands stand for: stage weight × mask bit."""
    weight_of_stage = dict(zip(STAGE_NAMES, stage_weights, strict=True))
    return tuple(weight_of_stage[STAGE_OF_LAYER[index]] if bit == "1" else 0.0 for index, bit in enumerate(mask))


def layer_scales(scale: float, weights: tuple[float, ...]) -> tuple[float, ...]:
    """λ × the layer's weight, in execution order."""
    return tuple(scale * weight for weight in weights)


def diffusers_scale_dict(scales: tuple[float, ...]) -> dict[str, object]:
    """The same per-layer scales as the dict diffusers' ``set_ip_adapter_scale`` takes.

    Used to hold our masks to diffusers in parity tests. Every block with attention is named
    explicitly, since diffusers gives 0.0 to anything left out.
    """
    down: dict[str, list[float]] = {}
    up: dict[str, list[float]] = {}
    mid = 0.0
    for layer, value in zip(CROSS_ATTENTION_LAYERS, scales, strict=True):
        parts = layer.split(".")
        if parts[0] == "mid_block":
            mid = value
        else:
            target = down if parts[0] == "down_blocks" else up
            target.setdefault(f"block_{parts[1]}", []).append(value)
    return {"down": down, "mid": mid, "up": up}
