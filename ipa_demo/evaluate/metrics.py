"""CLIP-I and CLIP-T, as the IP-Adapter paper reports them (section 4.1, Table 1).

- CLIP-I: cosine similarity of the CLIP image embeddings of an output and its reference image.
- CLIP-T: CLIPScore (Hessel et al., 2021) of an output and the reference's caption, that is
  2.5 × max(cosine of the image and text embeddings, 0). The paper names CLIPScore without its
  formula; the 2.5 weight is CLIPScore's own and the only reading that fits the paper's 0.588 (raw
  CLIP image–text cosines stay near 0.3). The raw cosine is kept beside it (``clip_t_cosine``).
The paper computes both with CLIP ViT-L/14 (``openai/clip-vit-large-patch14``), our default.
Each item is scored alone (its reference, caption and outputs as one fixed-size batch), so a
score never depends on which other items shared a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from ..errors import MissingModelError
from ..models.catalog import Kind, ModelSpec
from ..models.sources import ModelSources

CLIP_T_WEIGHT = 2.5
PAPER_CLIP = ModelSpec(
    key="clip-vit-large-patch14",
    repo_id="openai/clip-vit-large-patch14",
    path_in_repo="",
    kind=Kind.FOLDER,
    files=("config.json", "model.safetensors", "preprocessor_config.json", "merges.txt", "vocab.json",
           "tokenizer_config.json", "special_tokens_map.json"),  # fmt: skip
    description="CLIP ViT-L/14 for the CLIP-I / CLIP-T metrics",
)


def resolve_clip(clip_model: Path | None, models_dir: str | None) -> Path:
    """``--clip-model``, else ``clip-vit-large-patch14`` in the models folder, else the Hub cache."""
    if clip_model is not None:
        if not (clip_model / "config.json").is_file():
            raise MissingModelError(f"--clip-model: {clip_model} is not a CLIP model folder (no config.json)")
        return clip_model
    try:
        return ModelSources.from_env(models_dir).resolve(PAPER_CLIP)
    except MissingModelError as error:
        raise MissingModelError(
            f"{error}. Fetch it with `huggingface-cli download {PAPER_CLIP.repo_id}` (into the folder "
            f"{PAPER_CLIP.repo_name} of --models if you use one), or pass --clip-model DIR"
        ) from None


class ClipMetrics:
    def __init__(self, folder: Path, device: torch.device) -> None:
        from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer

        self.device = device
        self.model = CLIPModel.from_pretrained(folder).to(device, torch.float32).eval()
        self.processor = CLIPImageProcessor.from_pretrained(folder)
        self.tokenizer = CLIPTokenizer.from_pretrained(folder)
        self.name = f"{folder.name} (CLIP, width {self.model.config.vision_config.hidden_size})"

    @torch.no_grad()
    def images(self, images: Sequence[Image.Image]) -> torch.Tensor:
        pixels = self.processor(images=list(images), return_tensors="pt").pixel_values.to(self.device)
        return _unit(self.model.get_image_features(pixel_values=pixels).pooler_output)

    @torch.no_grad()
    def text(self, caption: str) -> torch.Tensor:
        tokens = self.tokenizer([caption], truncation=True, max_length=self.tokenizer.model_max_length,
                                return_tensors="pt").to(self.device)  # fmt: skip
        return _unit(self.model.get_text_features(**tokens).pooler_output)

    def score(self, reference: Image.Image, caption: str, outputs: Sequence[Image.Image]) -> list[dict[str, float]]:
        """CLIP-I, CLIP-T and the raw text cosine of each output."""
        embeds = self.images([reference, *outputs])
        text = self.text(caption)
        clip_i = (embeds[1:] @ embeds[0]).tolist()
        cosine = (embeds[1:] @ text[0]).tolist()
        return [
            {"clip_i": i, "clip_t": CLIP_T_WEIGHT * max(c, 0.0), "clip_t_cosine": c} for i, c in zip(clip_i, cosine)
        ]


def _unit(embeds: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(embeds.float(), dim=-1).cpu()
