"""SDXL text conditioning equals diffusers' ``StableDiffusionXLPipeline.encode_prompt`` and time ids."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from diffusers import StableDiffusionXLPipeline

from ipa_demo.models.tiny_sdxl import FOLDER
from ipa_demo.sdxl.text import SDXLTextEncoders, SizeConditioning


@pytest.fixture(scope="module")
def folder(tiny_models_dir: Path) -> Path:
    return tiny_models_dir / FOLDER


@pytest.fixture(scope="module")
def pipe(folder: Path) -> StableDiffusionXLPipeline:
    return StableDiffusionXLPipeline.from_pretrained(folder)


@pytest.fixture(scope="module")
def encoders(folder: Path) -> SDXLTextEncoders:
    return SDXLTextEncoders.from_folder(folder)


def _theirs(pipe: StableDiffusionXLPipeline, negative: str | None, guided: bool, n: int) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        embeds, negative_embeds, pooled, negative_pooled = pipe.encode_prompt(
            "a photo of a cat", negative_prompt=negative, do_classifier_free_guidance=guided, num_images_per_prompt=n
        )
    if not guided:
        return embeds, pooled
    return torch.cat([negative_embeds, embeds]), torch.cat([negative_pooled, pooled])


@pytest.mark.parametrize(
    ("ours", "theirs", "n"), [("", None, 1), ("a dog", "a dog", 1), ("", None, 2), ("the dog", "the dog", 3)]
)
def test_guided_rows_equal_diffusers(encoders, pipe, ours: str, theirs: str | None, n: int) -> None:
    text = encoders.encode("a photo of a cat", ours, guided=True, num_images=n)
    embeddings, pooled = _theirs(pipe, theirs, True, n)
    width = pipe.text_encoder.config.hidden_size + pipe.text_encoder_2.config.hidden_size  # side by side
    assert text.embeddings.shape == (2 * n, 77, width) and text.pooled.shape == (2 * n, 16)
    torch.testing.assert_close(text.embeddings, embeddings, rtol=0, atol=1e-6)
    torch.testing.assert_close(text.pooled, pooled, rtol=0, atol=1e-6)


def test_an_empty_negative_is_zeros_only_where_the_model_says_so(encoders, pipe) -> None:
    zeros = encoders.encode("a photo of a cat", "", guided=True)
    assert not zeros.embeddings[0].any() and not zeros.pooled[0].any() and zeros.embeddings[1].abs().sum() > 0
    encoded = SDXLTextEncoders(encoders.tokenizers, encoders.encoders, force_zeros_for_empty_prompt=False)
    text = encoded.encode("a photo of a cat", "", guided=True)
    pipe.register_to_config(force_zeros_for_empty_prompt=False)
    try:
        embeddings, pooled = _theirs(pipe, None, True, 1)
    finally:
        pipe.register_to_config(force_zeros_for_empty_prompt=True)
    assert text.embeddings[0].abs().sum() > 0
    torch.testing.assert_close((text.embeddings, text.pooled), (embeddings, pooled), rtol=0, atol=1e-6)


def test_without_guidance_only_the_prompt(encoders, pipe) -> None:
    text = encoders.encode("a photo of a cat", "ignored", guided=False, num_images=2)
    torch.testing.assert_close((text.embeddings, text.pooled), _theirs(pipe, None, False, 2), rtol=0, atol=1e-6)


def test_a_long_prompt_warns_once_per_text(encoders) -> None:
    text = encoders.encode("cat " * 100, "dog " * 100, guided=True)
    assert len(text.warnings) == 2 and "negative prompt" in text.warnings[0] and "75 tokens" in text.warnings[1]


@pytest.mark.parametrize(
    "size",
    [SizeConditioning((64, 64)), SizeConditioning((96, 64), (8, 0), (64, 48)), SizeConditioning((1024, 768), (0, 16))],
)
def test_time_ids_equal_diffusers(encoders, pipe, size: SizeConditioning) -> None:
    text = encoders.encode("a photo of a cat", "", guided=True, num_images=2)
    target = size.target or size.original
    theirs = pipe._get_add_time_ids(
        size.original, size.crop_top_left, target, torch.float32, pipe.text_encoder_2.config.projection_dim
    )
    added = text.added_cond_kwargs(size)
    assert added["text_embeds"] is text.pooled
    torch.testing.assert_close(added["time_ids"], theirs.repeat(4, 1), rtol=0, atol=0)
