"""The mask bits are the UNet's cross-attention modules (16 on SD 1.5, 11 on SDXL), in the order the UNet runs them."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import UNet2DConditionModel

from ipa_demo.architecture import SD15, SDXL, SDXL_CONFIG, describe_folder, describe_unet
from ipa_demo.engine import Engine
from ipa_demo.architecture.layers import (
    CROSS_ATTENTION_LAYERS,
    MASK_PRESETS,
    STAGES,
    WEIGHT_CURVES,
    curve_name,
    diffusers_scale_dict,
    mask_presets,
    model_weights,
    weight_curves,
)
from ipa_demo.models.tiny_sdxl import FOLDER, TEXT_HIDDEN, TIME_IDS


def cross_attentions_run(unet: UNet2DConditionModel, **added: torch.Tensor) -> list[str]:
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
            unet(sample, 10, encoder_hidden_states=text, added_cond_kwargs=added or None)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def test_layers_are_the_unets_cross_attentions_in_execution_order(engine: Engine) -> None:
    seen = cross_attentions_run(engine.models.unet)
    assert seen == [f"{layer}.transformer_blocks.0.attn2" for layer in CROSS_ATTENTION_LAYERS]


def test_sdxls_70_blocks_run_in_the_descriptions_order(tiny_models_dir: Path) -> None:
    unet = UNet2DConditionModel.from_pretrained(tiny_models_dir / FOLDER / "unet")
    pooled, time_ids = torch.zeros(1, TEXT_HIDDEN), torch.zeros(1, TIME_IDS)
    seen = cross_attentions_run(unet, text_embeds=pooled, time_ids=time_ids)
    assert seen == [block.cross_attention for block in describe_unet(unet.config).blocks] and len(seen) == 70


def test_sdxl_presets_are_instantstyles_diffusers_dicts() -> None:
    """InstantStyle's SDXL recipe in diffusers: style {"up": {"block_0": [0.0, 1.0, 0.0]}}, layout down block 2's second."""
    sdxl = describe_folder(SDXL_CONFIG)
    presets = mask_presets(sdxl)

    def scales(preset: str) -> dict[str, object]:
        return diffusers_scale_dict(tuple(float(bit) for bit in presets[preset]), sdxl)

    assert scales("style")["up"] == {"block_0": [0.0, 1.0, 0.0], "block_1": [0.0, 0.0, 0.0]}
    assert scales("composition")["down"] == {"block_1": [0.0, 0.0], "block_2": [0.0, 1.0]}
    assert len(presets["all"]) == 11 and presets["style+composition"].count("1") == 2


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


# --- Weight curves over any architecture's modules (issue 25) ---


def _formula_over_modules(formula, count: int) -> tuple[float, ...]:
    """The curve as the README states it: x = module index / (modules − 1), rounded to 0.01."""
    return tuple(round(formula(index / (count - 1)), 2) for index in range(count))


def test_a_curve_on_sdxl_has_one_weight_per_module_at_its_place_in_execution_order() -> None:
    curves = weight_curves(SDXL)
    assert set(curves) == set(WEIGHT_CURVES)
    assert curves["ease in"] == _formula_over_modules(lambda x: x * x, 11)
    assert curves["strong middle"] == _formula_over_modules(lambda x: 1 - (2 * x - 1) ** 2, 11)
    # the mid block (module 4 of down 2+2, mid, up 3+3) is not the curve's middle: x = 0.4 there
    assert SDXL.modules[4].stage == "mid" and curves["ease in"][4] == 0.16
    assert curves["strong middle"][5] == 1.0 and SDXL.module_names[5] == "up_blocks.0.attentions.0"


def test_a_named_curve_carries_over_by_name_and_anything_else_by_length_only() -> None:
    for name, curve in WEIGHT_CURVES.items():
        assert curve_name(curve) == name
        assert model_weights(curve, SDXL) == weight_curves(SDXL)[name]
        assert model_weights(weight_curves(SDXL)[name], SD15) == curve
    assert model_weights(WEIGHT_CURVES["ease out"], SD15) == WEIGHT_CURVES["ease out"]  # SD 1.5: as today
    assert model_weights((1.0,) * 16, SDXL) is None and curve_name((1.0,) * 16) is None
    assert model_weights((0.5,) * 70, SDXL) == (0.5,) * 70 and model_weights((0.5,) * 70, SD15) is None
