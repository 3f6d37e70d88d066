"""The architecture description, derived from real UNet configs, agrees with the loaded UNets' own
``attn_processors`` (what diffusers' loaders walk) and with SD 1.5's published layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from diffusers import UNet2DConditionModel

from ipa_demo.architecture import (
    SD15,
    SD15_CONFIG,
    SDXL_CONFIG,
    Architecture,
    ArchitectureError,
    describe,
    describe_folder,
    describe_unet,
    unet_config,
)
from ipa_demo.unet_setup import check_layout


SD15_MODULES = [  # DESIGN.md: the 16 mask bits, in execution order
    *(f"down_blocks.{block}.attentions.{index}" for block in range(3) for index in range(2)),
    "mid_block.attentions.0",
    *(f"up_blocks.{block}.attentions.{index}" for block in (1, 2, 3) for index in range(3)),
]
SDXL_MODULES = [  # DESIGN.md's SDXL facts: (module, transformer blocks), execution order
    *((f"down_blocks.1.attentions.{index}", 2) for index in range(2)),
    *((f"down_blocks.2.attentions.{index}", 10) for index in range(2)),
    ("mid_block.attentions.0", 10),
    *((f"up_blocks.0.attentions.{index}", 10) for index in range(3)),
    *((f"up_blocks.1.attentions.{index}", 2) for index in range(3)),
]


def sdxl() -> Architecture:
    return describe_folder(SDXL_CONFIG)


def test_sd15_modules_stages_and_sizes() -> None:
    assert list(SD15.module_names) == SD15_MODULES
    assert all(len(module.blocks) == 1 for module in SD15.modules) and len(SD15.blocks) == 16
    sizes = {stage.name: (SD15.feature_side(stage), stage.channels, stage.block) for stage in SD15.stages}
    assert sizes == {  # DESIGN.md: "Stages: down0 (64², 320 ch), down1 (32², 640), ..."
        "down0": (64, 320, "down_blocks.0"), "down1": (32, 640, "down_blocks.1"), "down2": (16, 1280, "down_blocks.2"),
        "mid": (8, 1280, "mid_block"),
        "up1": (16, 1280, "up_blocks.1"), "up2": (32, 640, "up_blocks.2"), "up3": (64, 320, "up_blocks.3"),
    }  # fmt: skip
    assert [SD15.modules[index].stage for stage in SD15.stages for index in stage.modules] == list(SD15.stage_of_module)
    assert SD15.default_size == 512 and SD15.text_encoders == ("text_encoder",) and SD15.cross_attention_dim == 768


def test_sd15_checkpoint_numbers_are_attn_processors_order() -> None:
    """h94's keys 1, 3, …, 31: down blocks, then up blocks, then the mid block (key 31)."""
    ids = {block.name.removesuffix(".transformer_blocks.0"): block.checkpoint_id for block in SD15.blocks}
    assert [ids[name] for name in SD15_MODULES] == [1, 3, 5, 7, 9, 11, 31, *range(13, 31, 2)]
    assert [block.checkpoint_id for block in SD15.blocks_in_checkpoint_order()] == list(range(1, 32, 2))


def test_sd15_presets_are_instant_styles_blocks() -> None:
    assert [SD15.modules[index].name for index in SD15.style] == [f"up_blocks.1.attentions.{i}" for i in range(3)]
    composition = [SD15.modules[index].name for index in SD15.composition]
    assert composition == [f"down_blocks.2.attentions.{i}" for i in range(2)]


def test_sdxl_base_has_11_modules_and_70_blocks_in_execution_order() -> None:
    architecture = sdxl()
    assert [(module.name, len(module.blocks)) for module in architecture.modules] == SDXL_MODULES
    assert len(architecture.blocks) == 70
    first = architecture.modules[2]  # down_blocks.2.attentions.0
    assert [architecture.blocks[index].name for index in first.blocks] == [
        f"down_blocks.2.attentions.0.transformer_blocks.{position}" for position in range(10)
    ]
    assert architecture.stage_names == ("down1", "down2", "mid", "up0", "up1")
    sides = {stage.name: (architecture.feature_side(stage), stage.channels) for stage in architecture.stages}
    assert sides == {"down1": (64, 640), "down2": (32, 1280), "mid": (32, 1280), "up0": (32, 1280), "up1": (64, 640)}
    assert architecture.default_size == 1024 and architecture.cross_attention_dim == 2048
    assert architecture.text_encoders == ("text_encoder", "text_encoder_2")


def test_sdxl_checkpoint_numbers_and_instant_style_presets() -> None:
    architecture = sdxl()
    numbers = {block.name: block.checkpoint_id for block in architecture.blocks}
    assert numbers["down_blocks.1.attentions.0.transformer_blocks.0"] == 1
    assert numbers["up_blocks.0.attentions.0.transformer_blocks.0"] == 49  # after the 24 down blocks
    assert numbers["mid_block.attentions.0.transformer_blocks.9"] == 139  # the mid block comes last
    assert sorted(numbers.values()) == list(range(1, 140, 2))
    assert [architecture.modules[index].name for index in architecture.style] == ["up_blocks.0.attentions.1"]
    assert [architecture.modules[index].name for index in architecture.composition] == ["down_blocks.2.attentions.1"]


def test_unknown_block_types_are_refused() -> None:
    config = {**unet_config(SD15_CONFIG), "down_block_types": ["SimpleCrossAttnDownBlock2D"] * 4}
    with pytest.raises(ArchitectureError, match="SimpleCrossAttnDownBlock2D"):
        describe(config, 8, ("text_encoder",))


def tiny_unet(folder: Path, channels: tuple[int, ...]) -> UNet2DConditionModel:
    """The real config with tiny widths: the same topology, built in a blink."""
    config = {**unet_config(folder), "block_out_channels": channels, "norm_num_groups": 4, "cross_attention_dim": 8}
    config.update(attention_head_dim=2, sample_size=8)
    if "addition_embed_type" in config:
        config.update(addition_time_embed_dim=4, projection_class_embeddings_input_dim=8 + 6 * 4)
    return UNet2DConditionModel.from_config(config)


@pytest.mark.parametrize(
    ("folder", "channels", "layers"), [(SD15_CONFIG, (8, 8, 8, 8), 16), (SDXL_CONFIG, (8, 8, 8), 70)]
)
def test_a_built_unets_attn_processors_agree_with_its_config(
    folder: Path, channels: tuple[int, ...], layers: int
) -> None:
    unet = tiny_unet(folder, channels)
    described = describe_unet(unet.config)
    cross = [name for name in unet.attn_processors if name.endswith("attn2.processor")]
    assert len(cross) == layers
    assert [block.processor_name for block in described.blocks_in_checkpoint_order()] == cross
    check_layout(described, list(unet.attn_processors))  # what prepare_unet checks on every loaded UNet
    assert described.modules == describe_folder(folder).modules


def test_the_tiny_sets_unet_is_described_as_sd15(engine) -> None:  # noqa: ANN001 (fixture)
    loaded = engine.models.architecture
    assert loaded.modules == SD15.modules and loaded.blocks == SD15.blocks and loaded.stages[0].channels != 320
    assert loaded.default_size == SD15.default_size and loaded.style == SD15.style
    check_layout(loaded, list(engine.models.unet.attn_processors))


def test_a_layout_that_differs_from_the_unet_is_refused() -> None:
    names = [block.processor_name for block in SD15.blocks_in_checkpoint_order()]
    with pytest.raises(ArchitectureError, match="differ"):
        check_layout(SD15, names)  # no attn1 before each attn2: the checkpoint numbers would not hold
