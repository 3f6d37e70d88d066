"""Several generations in one batch: a sweep's cells share each step's UNet call.

Cells that differ only in their IP-Adapter settings (λ, layers and their weights, window, variant,
references' weights) and seed run as one batch: one row per cell (two under guidance), each drawing
its noise from its own seed, each adapter unit acting on its cell's rows only, with that cell's
tokens, λ per layer and window. Everything else (prompt, size, steps, sampler, structure, init
image) is shared, so the text, ControlNet and the UNet's other layers run once for the batch.
Each cell's pixels equal ``Engine.generate`` with its settings up to float rounding (tested).

Not batched, each cell generated alone instead: reference-only (its extra row per image) and
injection maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from ..ip_adapter.conditioner import ImagePrompt
from ..ip_adapter.inputs import NO_MORE, MoreReferences, unit_requests
from ..loop import Conditioning, StepCallback, decode, denoise, encode_text, uses_guidance
from ..runtime import out_of_memory_as_user_error
from ..settings import GenerationSettings, IPAdapterSettings
from ..settings.units import NO_UNIT_IMAGES, UnitImages, check_unit_images
from ..starts import FROM_NOISE, FromImage

if TYPE_CHECKING:
    from ..engine import Engine


@dataclass(frozen=True)
class CellImage:
    image: Image.Image
    pixels: np.ndarray  # float (h, w, 3) in [0, 1]
    parameters: str


def shared_part(settings: GenerationSettings) -> GenerationSettings:
    """What cells batched together must have in common: all but the IP-Adapter settings and the seed."""
    return replace(settings, seed=0, ip=IPAdapterSettings(), num_images=1)


def can_batch(settings: GenerationSettings) -> bool:
    return settings.num_images == 1 and not settings.reference_only.is_active


def generate_batch(
    engine: Engine,
    cells: Sequence[GenerationSettings],
    references: Sequence[Image.Image] = (),
    init_image: Image.Image | None = None,
    control_image: Image.Image | None = None,
    on_step: StepCallback | None = None,
    more: MoreReferences = NO_MORE,
    units: UnitImages = NO_UNIT_IMAGES,
) -> list[CellImage]:
    """Generate the cells (one image each, ``shared_part`` equal) in one batch; ``on_step`` counts steps."""
    first = cells[0]
    if any(not can_batch(cell) or shared_part(cell) != shared_part(first) for cell in cells):
        raise ValueError("cells batched together may differ only in their IP-Adapter settings and seed")
    batch = replace(first, num_images=len(cells))
    with engine.serving(first):
        check_unit_images(first, units)
        requests = [unit_requests(cell, references, more, units) for cell in cells]
        prompts = [engine.image_prompts(cell, cell_units) for cell, cell_units in zip(cells, requests, strict=True)]
        structure, _ = engine.structure(batch, control_image, units)
        conditioning = Conditioning(
            text=encode_text(engine.models, engine.loras.text_settings(batch)),
            conditioners=(*_on_own_rows(prompts, uses_guidance(batch), engine.device), *structure),
            start=FromImage(engine.posterior(init_image, batch), batch.strength) if init_image is not None else FROM_NOISE,
        )
        seeds = tuple(cell.seed for cell in cells)
        with out_of_memory_as_user_error(engine.device):
            pixels = decode(engine.models, denoise(engine.models, batch, conditioning, on_step, seeds))
        images = engine.models.image_processor.numpy_to_pil(pixels)
        img2img = init_image is not None
        return [
            CellImage(image, row, engine.parameters_text(cell, cell.seed, cell_units, [p is not None for p in unit_prompts], img2img))
            for image, row, cell, cell_units, unit_prompts in zip(images, pixels, cells, requests, prompts, strict=True)
        ]  # fmt: skip


def _on_own_rows(
    prompts: Sequence[Sequence[ImagePrompt | None]], guided: bool, device: torch.device
) -> list[ImagePrompt]:
    """Each cell's adapter units, acting on that cell's rows of the batch: i, and n + i under guidance."""
    count = len(prompts)
    placed = []
    for index, unit_prompts in enumerate(prompts):
        rows = torch.tensor([index, count + index] if guided else [index], device=device)
        placed += [prompt.for_rows(rows) for prompt in unit_prompts if prompt is not None]
    return placed
