"""Fitting our per-call hooks into a UNet once, when it is loaded."""

from __future__ import annotations

from diffusers import UNet2DConditionModel

from .architecture import Architecture, ArchitectureError, describe_unet
from .ip_adapter.attention import CrossAttnProcessor
from .reference_only.hooks import SelfAttnProcessor, install_adain_hooks


def prepare_unet(unet: UNet2DConditionModel) -> None:
    """Every attention gets one of our processors; blocks get the (idle) AdaIN hooks.

    All of them act only on what a call hands them (IP tokens in ``cross_attention_kwargs``, the
    active reference pass): with nothing handed in, the UNet computes exactly what it did before.
    """
    architecture = describe_unet(unet.config)
    check_layout(architecture, list(unet.attn_processors))
    blocks = enumerate(architecture.blocks)
    cross = {block.processor_name: CrossAttnProcessor(block.module, number) for number, block in blocks}
    processors = {
        name: cross.get(name) or SelfAttnProcessor(name.removesuffix(".attn1.processor"))
        for name in unet.attn_processors
    }
    unet.set_attn_processor(processors)
    install_adain_hooks(unet)


def check_layout(architecture: Architecture, processor_names: list[str]) -> None:
    """The description's image cross-attentions must be the UNet's, at the positions checkpoints number them by."""
    found = {name: position for position, name in enumerate(processor_names) if name.endswith(".attn2.processor")}
    expected = {block.processor_name: block.checkpoint_id for block in architecture.blocks}
    if found != expected:
        raise ArchitectureError(
            f"the UNet's cross-attention layers ({len(found)}) differ from its config's description ({len(expected)})"
        )
