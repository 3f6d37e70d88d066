"""The 16 mask bits are the UNet's cross-attention layers, in the order the UNet runs them."""

from __future__ import annotations

import torch

from ipa_demo.engine import Engine
from ipa_demo.ip_adapter.layers import CROSS_ATTENTION_LAYERS, MASK_PRESETS, STAGES, diffusers_scale_dict


def test_layers_are_the_unets_cross_attentions_in_execution_order(engine: Engine) -> None:
    unet = engine.models.unet
    seen: list[str] = []
    handles = [
        module.register_forward_pre_hook(lambda _module, _args, name=name: seen.append(name))
        for name, module in unet.named_modules()
        if name.endswith("attn2")
    ]
    try:
        sample = torch.zeros(1, 4, 8, 8)
        text = torch.zeros(1, 77, unet.config.cross_attention_dim)
        with torch.no_grad():
            unet(sample, 10, encoder_hidden_states=text)
    finally:
        for handle in handles:
            handle.remove()
    assert seen == [f"{layer}.transformer_blocks.0.attn2" for layer in CROSS_ATTENTION_LAYERS]


def test_stages_cover_every_layer_once() -> None:
    indices = sorted(index for layers in STAGES.values() for index in layers)
    assert indices == list(range(16))


def test_presets_follow_instantstyle_for_sd15() -> None:
    assert MASK_PRESETS["style"] == "0000000111000000"  # up_blocks.1
    assert MASK_PRESETS["composition"] == "0000110000000000"  # down_blocks.2
    assert MASK_PRESETS["style+composition"] == "0000110111000000"


def test_diffusers_scale_dict_names_every_block_with_attention() -> None:
    scales = tuple(float(index) for index in range(16))
    assert diffusers_scale_dict(scales) == {
        "down": {"block_0": [0.0, 1.0], "block_1": [2.0, 3.0], "block_2": [4.0, 5.0]},
        "mid": 6.0,
        "up": {"block_1": [7.0, 8.0, 9.0], "block_2": [10.0, 11.0, 12.0], "block_3": [13.0, 14.0, 15.0]},
    }
