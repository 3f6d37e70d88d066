"""A preview grid during training: fixed prompts × fixed references, one seed, the app's own loop."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from ..images import load_image
from ..ip_adapter.conditioner import ImagePrompt
from ..ip_adapter.image_encoder import ImageEncoder
from ..ip_adapter.weights import IPAdapterWeights
from ..loop import Conditioning, decode, denoise, encode_text, uses_guidance
from ..models.loading import StableDiffusionModels
from ..settings import GenerationSettings, IPAdapterSettings

NEGATIVE_PROMPT = "monochrome, lowres, bad anatomy, worst quality, low quality"  # the official demos' negative


class SampleGrid:
    """Rows are references, columns prompts; the same seed each time, so grids compare across steps."""

    def __init__(
        self,
        models: StableDiffusionModels,
        encoder: ImageEncoder,
        prompts: Sequence[str],
        references: Sequence[Path],
        resolution: int,
        steps: int,
        seed: int,
    ) -> None:
        self.models = models
        self.encoder = encoder
        self.prompts = list(prompts)
        self.references = [load_image(path, "--sample-reference") for path in references]
        self.resolution = resolution
        self.steps = steps
        self.seed = seed

    @torch.no_grad()
    def render(self, adapter: IPAdapterWeights) -> Image.Image:
        # A copy in the frozen models' precision: the trained one may be float32 under fp16/bf16 models.
        weights = copy.deepcopy(adapter).to(self.models.dtype).eval()
        tiles = []
        for reference in self.references:
            encoding = self.encoder.encode([reference], "crop", weights.uses_hidden_states)
            for prompt in self.prompts:
                settings = GenerationSettings(
                    prompt=prompt,
                    negative_prompt=NEGATIVE_PROMPT,
                    seed=self.seed,
                    width=self.resolution,
                    height=self.resolution,
                    steps=self.steps,
                    ip=IPAdapterSettings(scale=1.0),
                )
                image_prompt = ImagePrompt.prepare(
                    weights, encoding.positive, encoding.negative, settings.ip,
                    num_images=1, guided=uses_guidance(settings),
                )  # fmt: skip
                conditioning = Conditioning(encode_text(self.models, settings), (image_prompt,))
                pixels = decode(self.models, denoise(self.models, settings, conditioning))
                tiles.append(self.models.image_processor.numpy_to_pil(pixels)[0])
        return _grid(tiles, rows=len(self.references), columns=len(self.prompts), side=self.resolution)


def _grid(tiles: list[Image.Image], rows: int, columns: int, side: int) -> Image.Image:
    grid = Image.new("RGB", (columns * side, rows * side))
    for position, tile in enumerate(tiles):
        grid.paste(tile, ((position % columns) * side, (position // columns) * side))
    return grid
