"""The tiny metric CLIP loads as CLIP ViT-L/14 does and reads text (not every token the same id)."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import CLIPModel, CLIPTokenizer

from ipa_demo.models.tiny_clip import write_tiny_clip


def test_tiny_clip_loads_and_tells_captions_apart(tmp_path: Path) -> None:
    folder = write_tiny_clip(tmp_path / "clip")
    model, tokenizer = CLIPModel.from_pretrained(folder), CLIPTokenizer.from_pretrained(folder)
    tokens = tokenizer(["a photo of a cat", "the dog"], padding=True, return_tensors="pt")
    assert len(set(tokens.input_ids[0].tolist())) > 3
    with torch.no_grad():
        text = model.get_text_features(**tokens).pooler_output
    assert text.shape == (2, model.config.projection_dim) and not torch.allclose(text[0], text[1])
