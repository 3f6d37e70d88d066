"""Tiny random depth estimators in the real repos' layout: Depth Anything V2 and DPT (MiDaS).

Each is the real architecture at toy widths, built from a config offline, with the image processor
settings of its real repo where they matter (Depth Anything: aspect kept, sides multiples of the
14-pixel patch; DPT-hybrid MiDaS: a fixed square). transformers' ``pipeline("depth-estimation")``
loads either folder as it loads the real one.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    DepthAnythingConfig,
    DepthAnythingForDepthEstimation,
    Dinov2Config,
    DPTConfig,
    DPTForDepthEstimation,
    DPTImageProcessor,
)

DEPTH_ANYTHING_PATCH = 14  # DINOv2's patch size, as in the real model
DEPTH_ANYTHING_SIZE = 56  # 518 on the real one: both are multiples of the patch size
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
BICUBIC = 3  # PIL.Image.Resampling.BICUBIC, as the real preprocessor_config.json says


def write_depth_anything(folder: Path) -> None:
    """Depth Anything V2 (a DINOv2 backbone and a DPT head) at toy widths."""
    backbone = Dinov2Config(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=4,
        mlp_ratio=2,
        image_size=DEPTH_ANYTHING_SIZE,
        patch_size=DEPTH_ANYTHING_PATCH,
        out_indices=[1, 2, 3, 4],
        apply_layernorm=True,
        reshape_hidden_states=False,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone,
        patch_size=DEPTH_ANYTHING_PATCH,
        reassemble_hidden_size=32,
        neck_hidden_sizes=[8, 16, 32, 32],
        fusion_hidden_size=16,
        head_hidden_size=8,
        depth_estimation_type="relative",
    )
    DepthAnythingForDepthEstimation(config).save_pretrained(folder)
    DPTImageProcessor(
        size={"height": DEPTH_ANYTHING_SIZE, "width": DEPTH_ANYTHING_SIZE},
        keep_aspect_ratio=True,
        ensure_multiple_of=DEPTH_ANYTHING_PATCH,
        resample=BICUBIC,
        image_mean=IMAGENET_MEAN,
        image_std=IMAGENET_STD,
    ).save_pretrained(folder)


def write_dpt(folder: Path) -> None:
    """DPT (the ViT variant; the real MiDaS one is hybrid with a BiT stem) at toy widths.

    Intel/dpt-hybrid-midas publishes its weights as a pickle only, so the twin does too: loading
    it takes the same ``torch.load(weights_only=True)`` path. (transformers 5 saves safetensors only.)
    """
    config = DPTConfig(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=64,
        image_size=96,
        patch_size=16,
        backbone_out_indices=[0, 1, 2, 3],
        neck_hidden_sizes=[8, 16, 32, 32],
        fusion_hidden_size=16,
        is_hybrid=False,
    )
    model = DPTForDepthEstimation(config)
    model.config.architectures = [type(model).__name__]
    model.config.save_pretrained(folder)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    DPTImageProcessor(
        size={"height": 96, "width": 96},
        keep_aspect_ratio=False,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    ).save_pretrained(folder)


DEPTH_WRITERS = {"depth-anything-v2-small": write_depth_anything, "dpt-hybrid-midas": write_dpt}
