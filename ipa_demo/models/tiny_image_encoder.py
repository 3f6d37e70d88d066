"""Tiny random CLIP vision towers with projection, laid out as the IP-Adapter image encoders
(ViT-H/14 for SD 1.5 and SDXL's H adapters, ViT-bigG/14 for SDXL's base adapter): only the widths differ."""

from __future__ import annotations

from pathlib import Path

from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

IMAGE_SIZE = 224
PATCH_SIZE = 14  # 224 / 14 = 16, so 16 * 16 + 1 = 257 tokens as on ViT-H/14
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def write_image_encoder(folder: Path, hidden: int, embeds: int) -> None:
    """A two-layer vision tower of width ``hidden`` whose projection gives ``embeds`` numbers."""
    config = CLIPVisionConfig(
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        projection_dim=embeds,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=IMAGE_SIZE,
        patch_size=PATCH_SIZE,
        hidden_act="gelu",
    )
    CLIPVisionModelWithProjection(config).save_pretrained(folder)
    write_image_processor(folder, IMAGE_SIZE)


def write_image_processor(folder: Path, size: int) -> None:
    """CLIP's image preprocessing (resize, centre crop, its mean and spread) at ``size``."""
    CLIPImageProcessor(
        size={"shortest_edge": size},
        crop_size={"height": size, "width": size},
        image_mean=list(CLIP_MEAN),
        image_std=list(CLIP_STD),
    ).save_pretrained(folder)
