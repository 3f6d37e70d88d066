"""An ``Architecture`` from a UNet's config dict: the walk diffusers' loaders do over
``unet.attn_processors``, done on the config so that it needs neither torch nor weights.

It follows how ``UNet2DConditionModel.__init__`` builds its blocks: down block i has
``layers_per_block[i]`` attention modules of ``transformer_layers_per_block[i]`` transformer blocks,
the mid block one module of the last count, up block i one module more than the mirrored down block.
``attn_processors`` lists the down blocks, then the up blocks, then the mid block (the order in which
the UNet registers them), each transformer block's attn1 before its attn2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .description import Architecture, AttentionModule, Direction, Stage, TransformerBlock
from .presets import TEXT_ENCODERS, TITLES, VAE_SCALE_FACTOR, family_of, instant_style

CROSS_ATTENTION_BLOCKS = {"CrossAttnDownBlock2D", "CrossAttnUpBlock2D", "UNetMidBlock2DCrossAttn"}
PLAIN_BLOCKS = {"DownBlock2D", "UpBlock2D", None}


class ArchitectureError(ValueError):
    """A UNet config this app cannot lay out (a block type it does not know)."""


def _per_block(value: Any, count: int) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value] * count


def _transformer_count(per_block: Any, layer: int) -> int:
    """``transformer_layers_per_block`` entries are an int, or one int per attention module."""
    return int(per_block[layer]) if isinstance(per_block, (list, tuple)) else int(per_block)


def _check(block_type: str | None) -> bool:
    """Whether the block has cross-attention modules; refuses types whose layout is not known."""
    if block_type in CROSS_ATTENTION_BLOCKS:
        return True
    if block_type in PLAIN_BLOCKS:
        return False
    raise ArchitectureError(f"unsupported UNet block type {block_type!r}")


def describe(unet: Mapping[str, Any], vae_scale_factor: int, text_encoders: Sequence[str]) -> Architecture:
    down_types: list[str] = list(unet["down_block_types"])
    up_types: list[str] = list(unet["up_block_types"])
    count = len(down_types)
    channels = list(unet["block_out_channels"])
    layers = _per_block(unet.get("layers_per_block", 2), count)
    transformers = _per_block(unet.get("transformer_layers_per_block", 1), count)
    reversed_transformers = unet.get("reverse_transformer_layers_per_block") or list(reversed(transformers))
    # (direction, block index, block name, modules' transformer counts, downsampling, channels)
    plan: list[tuple[Direction, int, str, list[int], int, int]] = []
    for index, block_type in enumerate(down_types):
        if _check(block_type):
            counts = [_transformer_count(transformers[index], layer) for layer in range(layers[index])]
            plan.append(("down", index, f"down_blocks.{index}", counts, 2**index, channels[index]))
    if _check(unet.get("mid_block_type", "UNetMidBlock2DCrossAttn")):
        plan.append(("mid", 0, "mid_block", [_transformer_count(transformers[-1], 0)], 2 ** (count - 1), channels[-1]))
    for index, block_type in enumerate(up_types):
        if _check(block_type):
            mirrored = count - 1 - index
            counts = [_transformer_count(reversed_transformers[index], layer) for layer in range(layers[mirrored] + 1)]
            plan.append(("up", index, f"up_blocks.{index}", counts, 2**mirrored, channels[mirrored]))
    return _assemble(unet, plan, vae_scale_factor, tuple(text_encoders), resolutions=count)


def describe_unet(unet: Mapping[str, Any]) -> Architecture:
    """From a UNet's config alone (a loaded UNet's ``unet.config``): the VAE factor and the text
    encoders are its family's. Modules, blocks, stages and checkpoint order are the UNet's own."""
    return describe(unet, VAE_SCALE_FACTOR, TEXT_ENCODERS[family_of(unet)])


def _assemble(
    unet: Mapping[str, Any],
    plan: list[tuple[Direction, int, str, list[int], int, int]],
    vae_scale_factor: int,
    text_encoders: tuple[str, ...],
    resolutions: int,
) -> Architecture:
    modules: list[AttentionModule] = []
    names: list[str] = []
    stages: list[Stage] = []
    for direction, index, block, counts, downsampling, width in plan:
        stage = "mid" if direction == "mid" else f"{direction}{index}"
        first = len(modules)
        for layer, transformer_count in enumerate(counts):
            module = f"{block}.attentions.{layer}"
            blocks = tuple(range(len(names), len(names) + transformer_count))
            names.extend(f"{module}.transformer_blocks.{position}" for position in range(transformer_count))
            modules.append(AttentionModule(module, stage, blocks))
        stages.append(Stage(stage, block, direction, downsampling, width, tuple(range(first, len(modules)))))
    ids = _checkpoint_ids(names)
    blocks = tuple(
        TransformerBlock(names[position], number, ids[position])
        for number, module in enumerate(modules)
        for position in module.blocks
    )
    family = family_of(unet)
    style, composition = instant_style(family, tuple(module.name for module in modules))
    return Architecture(
        family=family,
        title=TITLES[family],
        modules=tuple(modules),
        blocks=blocks,
        stages=tuple(stages),
        resolutions=resolutions,
        latent_size=int(unet["sample_size"]),
        vae_scale_factor=vae_scale_factor,
        cross_attention_dim=int(unet["cross_attention_dim"]),
        text_encoders=text_encoders,
        style=style,
        composition=composition,
    )


def _checkpoint_ids(names: list[str]) -> list[int]:
    """Each block's attn2 position in ``attn_processors``: down, up, then mid; attn1 before attn2."""
    rank = {"down_blocks": 0, "up_blocks": 1, "mid_block": 2}
    order = sorted(range(len(names)), key=lambda position: (rank[names[position].split(".")[0]], position))
    ids = [0] * len(names)
    for place, position in enumerate(order):
        ids[position] = 2 * place + 1
    return ids
