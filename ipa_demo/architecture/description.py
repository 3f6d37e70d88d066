"""What the app needs to know about a base model's UNet, as one frozen record: its cross-attention
modules in execution order, the transformer blocks inside each, the stages they sit in, the sizes,
the text encoders and the published presets.

Execution order (down blocks, mid block, up blocks) is the order of the layer grid, the masks, the
weights and the curves. IP-Adapter checkpoints number each transformer block's image K'/V' by its
attn2's position in ``unet.attn_processors`` instead (down, up, then mid): ``checkpoint_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["down", "mid", "up"]


def shrink(side: int, downsampling: int) -> int:
    """A feature map side ``downsampling`` times smaller: stride-2 convolutions halve it, rounding up."""
    for _ in range(downsampling.bit_length() - 1):
        side = -(-side // 2)
    return side


@dataclass(frozen=True)
class TransformerBlock:
    name: str  # "down_blocks.1.attentions.0.transformer_blocks.1"
    module: int  # its attention module's index, execution order
    checkpoint_id: int  # the number of its ``ip_adapter.<id>.to_k_ip`` key: attn2's place in attn_processors

    @property
    def cross_attention(self) -> str:
        return f"{self.name}.attn2"

    @property
    def processor_name(self) -> str:
        """Its image cross-attention's key in ``unet.attn_processors``."""
        return f"{self.cross_attention}.processor"


@dataclass(frozen=True)
class AttentionModule:
    """One ``Transformer2DModel``: a bit of the layer mask (A1111 and ComfyUI weigh models by these)."""

    name: str  # "down_blocks.2.attentions.1"
    stage: str
    blocks: tuple[int, ...]  # indices into ``Architecture.blocks``


@dataclass(frozen=True)
class Stage:
    """One UNet block with attention: its modules share one feature map size."""

    name: str  # "down2", "mid", "up1": the block's direction and index
    block: str  # "down_blocks.2", "mid_block"
    direction: Direction
    downsampling: int  # how much smaller than the latents its feature map is
    channels: int
    modules: tuple[int, ...]  # indices into ``Architecture.modules``


@dataclass(frozen=True)
class Architecture:
    family: str  # "sd15" or "sdxl": whose published layer choices (presets) apply
    title: str  # how the page names it: "SD 1.5"
    modules: tuple[AttentionModule, ...]
    blocks: tuple[TransformerBlock, ...]
    stages: tuple[Stage, ...]
    resolutions: int  # distinct feature map sizes, from the latents down (the up blocks mirror them)
    latent_size: int  # the UNet's ``sample_size``
    vae_scale_factor: int
    cross_attention_dim: int
    text_encoders: tuple[str, ...]  # the model folder's components, as model_index.json names them
    style: tuple[int, ...]  # modules InstantStyle found to carry style
    composition: tuple[int, ...]  # ... and composition (layout, pose)

    @property
    def default_size(self) -> int:
        """The image side the model was trained at (512 on SD 1.5, 1024 on SDXL)."""
        return self.latent_size * self.vae_scale_factor

    @property
    def module_names(self) -> tuple[str, ...]:
        return tuple(module.name for module in self.modules)

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(stage.name for stage in self.stages)

    @property
    def stage_of_module(self) -> tuple[str, ...]:
        return tuple(module.stage for module in self.modules)

    def stage(self, name: str) -> Stage:
        return next(stage for stage in self.stages if stage.name == name)

    def feature_side(self, stage: Stage, image_side: int | None = None) -> int:
        """A stage's feature map side for an image side (default: ``default_size``)."""
        return shrink((image_side or self.default_size) // self.vae_scale_factor, stage.downsampling)

    def blocks_in_checkpoint_order(self) -> tuple[TransformerBlock, ...]:
        return tuple(sorted(self.blocks, key=lambda block: block.checkpoint_id))

    def stages_of(self, modules: tuple[int, ...]) -> tuple[str, ...]:
        """The stages holding ``modules``, in execution order."""
        return tuple(dict.fromkeys(self.modules[index].stage for index in sorted(modules)))
