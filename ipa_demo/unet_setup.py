"""Fitting our per-call hooks into a UNet once, when it is loaded."""

from __future__ import annotations

from diffusers import UNet2DConditionModel

from .ip_adapter.attention import CrossAttnProcessor
from .ip_adapter.layers import CROSS_ATTENTION_LAYERS, processor_name
from .reference_only.hooks import SelfAttnProcessor, install_adain_hooks


def prepare_unet(unet: UNet2DConditionModel) -> None:
    """Every attention gets one of our processors; blocks get the (idle) AdaIN hooks.

    All of them act only on what a call hands them (IP tokens in ``cross_attention_kwargs``, the
    active reference pass): with nothing handed in, the UNet computes exactly what it did before.
    """
    cross = {processor_name(layer): CrossAttnProcessor(index) for index, layer in enumerate(CROSS_ATTENTION_LAYERS)}
    processors = {
        name: cross.get(name) or SelfAttnProcessor(name.removesuffix(".attn1.processor"))
        for name in unet.attn_processors
    }
    unet.set_attn_processor(processors)
    install_adain_hooks(unet)
