"""A tiny random CLIP (text and vision towers) laid out like ``openai/clip-vit-large-patch14``:
the evaluation's metric model on the tiny set, so its tests never download the real one."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPModel

from .tiny import END_TOKEN, MAX_TOKENS, START_TOKEN, _write_tokenizer
from .tiny_image_encoder import write_image_processor

WIDTH = 32
IMAGE_SIZE = 32


def write_tiny_clip(folder: Path, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    vocab = _write_tokenizer(folder)
    tower = {"hidden_size": WIDTH, "intermediate_size": 2 * WIDTH, "num_hidden_layers": 2, "num_attention_heads": 2}
    special = {"bos_token_id": vocab[START_TOKEN], "eos_token_id": vocab[END_TOKEN], "pad_token_id": vocab[END_TOKEN]}
    config = CLIPConfig(
        text_config={**tower, **special, "vocab_size": len(vocab), "max_position_embeddings": MAX_TOKENS},
        vision_config={**tower, "image_size": IMAGE_SIZE, "patch_size": 8},
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(folder)
    write_image_processor(folder, IMAGE_SIZE)
    return folder
