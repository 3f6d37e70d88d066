"""SDXL's text conditioning, as diffusers' ``StableDiffusionXLPipeline`` computes it.

Two CLIP text encoders read the prompt: the UNet's cross-attention takes both penultimate hidden
states side by side (768 + 1280 = 2048 on SDXL), and its added embedding takes the second encoder's
pooled projection plus six "time ids" (original size, crop top-left, target size). The base model's
``force_zeros_for_empty_prompt`` makes an empty negative prompt all zeros instead of the encoding
of "" (diffusers does so when ``negative_prompt`` is None; the app's empty field is that case).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

# A fast tokenizer keeps padding settings as shared state: two requests at once must not mix them.
_TOKENIZER_LOCK = threading.Lock()
HIDDEN_LAYER = -2  # SDXL reads the penultimate layer of both encoders (clip skip 1 in A1111's words)


@dataclass(frozen=True)
class SizeConditioning:
    """What SDXL's micro-conditioning says about the image: its size before cropping, where the crop
    began (top, left) and the size asked for; diffusers defaults all but the crop to the output size."""

    original: tuple[int, int]  # (height, width)
    crop_top_left: tuple[int, int] = (0, 0)
    target: tuple[int, int] | None = None  # None: ``original``

    def time_ids(self) -> tuple[int, ...]:
        return (*self.original, *self.crop_top_left, *(self.target or self.original))


@dataclass(frozen=True)
class SDXLText:
    """One generation's text conditioning; under guidance the negative rows come first, as in the loop."""

    embeddings: torch.Tensor  # (rows, 77, width of encoder 1 + width of encoder 2)
    pooled: torch.Tensor  # (rows, projection of encoder 2)
    warnings: tuple[str, ...] = ()

    def added_cond_kwargs(self, size: SizeConditioning) -> dict[str, torch.Tensor]:
        """The UNet's ``added_cond_kwargs``: the pooled text and each row's six time ids."""
        ids = torch.tensor([size.time_ids()], dtype=self.embeddings.dtype, device=self.embeddings.device)
        return {"text_embeds": self.pooled, "time_ids": ids.repeat(len(self.pooled), 1)}


@dataclass(frozen=True)
class SDXLTextEncoders:
    tokenizers: tuple[CLIPTokenizer, CLIPTokenizer]
    encoders: tuple[CLIPTextModel, CLIPTextModelWithProjection]
    force_zeros_for_empty_prompt: bool

    @classmethod
    def from_folder(
        cls,
        folder: Path,
        dtype: torch.dtype = torch.float32,
        encoders: tuple[CLIPTextModel, CLIPTextModelWithProjection] | None = None,
    ) -> SDXLTextEncoders:
        """An SDXL diffusers folder's two tokenizers and encoders, and its empty-prompt rule;
        ``encoders`` given (read from a single file), the folder's own are not loaded."""
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
        if encoders is None:
            encoders = (
                CLIPTextModel.from_pretrained(folder / "text_encoder", **_weights(folder / "text_encoder", dtype)),
                CLIPTextModelWithProjection.from_pretrained(
                    folder / "text_encoder_2", **_weights(folder / "text_encoder_2", dtype)
                ),
            )
        return cls(
            tokenizers=(
                CLIPTokenizer.from_pretrained(folder / "tokenizer"),
                CLIPTokenizer.from_pretrained(folder / "tokenizer_2"),
            ),
            encoders=(encoders[0].eval(), encoders[1].eval()),
            force_zeros_for_empty_prompt=bool(index.get("force_zeros_for_empty_prompt", True)),
        )

    @property
    def device(self) -> torch.device:
        return self.encoders[1].device

    @torch.no_grad()
    def encode_one(self, text: str, label: str = "prompt") -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
        """(hidden states of both encoders side by side, the pooled projection, warnings) for one text."""
        hidden, pooled, truncated = self.encode_texts([text])
        warnings = ()
        if truncated:
            limit = self.tokenizers[0].model_max_length - 2
            warnings = (f"The {label} is longer than CLIP's {limit} tokens; the words past that were ignored.",)
        return hidden, pooled, warnings

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """(hidden states side by side, pooled projection, whether any text was cut) for several texts
        at once, one row each: a training batch's captions, read as ``encode_one`` reads a prompt."""
        hidden, cut = [], False
        pooled = None
        for tokenizer, encoder in zip(self.tokenizers, self.encoders, strict=True):
            ids, truncated = _tokenize(tokenizer, list(texts))
            cut = cut or truncated
            output = encoder(ids.to(self.device), output_hidden_states=True)
            hidden.append(output.hidden_states[HIDDEN_LAYER])
            if isinstance(encoder, CLIPTextModelWithProjection):
                pooled = output.text_embeds
        assert pooled is not None  # the second encoder has a projection
        return torch.cat(hidden, dim=-1), pooled, cut

    def encode(self, prompt: str, negative_prompt: str, guided: bool, num_images: int = 1) -> SDXLText:
        """Rows ``[negative × n ; prompt × n]`` under guidance, else ``[prompt × n]``."""
        embeddings, pooled, warnings = self.encode_one(prompt)
        if not guided:
            return SDXLText(_rows(embeddings, num_images), _rows(pooled, num_images), warnings)
        if not negative_prompt and self.force_zeros_for_empty_prompt:
            negative, negative_pooled, negative_warnings = torch.zeros_like(embeddings), torch.zeros_like(pooled), ()
        else:
            negative, negative_pooled, negative_warnings = self.encode_one(negative_prompt, "negative prompt")
        return SDXLText(
            torch.cat([_rows(negative, num_images), _rows(embeddings, num_images)]),
            torch.cat([_rows(negative_pooled, num_images), _rows(pooled, num_images)]),
            negative_warnings + warnings,
        )


def _weights(folder: Path, dtype: torch.dtype) -> dict[str, object]:
    """Full-precision safetensors where present, else the fp16 files the catalog downloads."""
    lean = not (folder / "model.safetensors").exists() and (folder / "model.fp16.safetensors").exists()
    return {"dtype": dtype, "use_safetensors": True, "variant": "fp16" if lean else None}


def _rows(tensor: torch.Tensor, count: int) -> torch.Tensor:
    return tensor.repeat_interleave(count, dim=0)


def _tokenize(tokenizer: CLIPTokenizer, text: str | list[str]) -> tuple[torch.Tensor, bool]:
    with _TOKENIZER_LOCK:
        ids = tokenizer(
            text, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
        ).input_ids
        untruncated = tokenizer(text, padding="longest", return_tensors="pt").input_ids
    return ids, untruncated.shape[-1] > ids.shape[-1]
