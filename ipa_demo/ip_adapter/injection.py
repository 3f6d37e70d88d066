"""Injection maps: how strongly the image branch acts at each layer and position of one generation.

The measure is the norm, over channels, of the image branch's contribution λ·softmax(QK'ᵀ/√d)V'
(heads merged), on each image's conditional row, averaged over all steps (a step outside the IP
window, or a layer whose λ is 0, adds zero). Our processor hands the branch to a recorder only when
one is asked for, so the maps cost nothing otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..architecture import Architecture
from ..architecture.description import shrink
from ..architecture.layers import DEFAULT_ARCHITECTURE


@dataclass
class InjectionRecorder:
    latent_size: tuple[int, int]  # (height, width) of the latents
    rows: slice  # the rows recorded: each image's conditional row of the UNet batch
    architecture: Architecture
    sums: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> (images, positions), summed over steps

    @classmethod
    def for_batch(
        cls,
        latent_size: tuple[int, int],
        num_images: int,
        guided: bool,
        architecture: Architecture = DEFAULT_ARCHITECTURE,
    ) -> InjectionRecorder:
        rows = slice(num_images, 2 * num_images) if guided else slice(0, num_images)
        return cls(latent_size, rows, architecture)

    def shifted(self, rows: int) -> InjectionRecorder:
        """The same recorder (one set of sums) for a batch with ``rows`` extra rows in front."""
        return replace(self, rows=slice(self.rows.start + rows, self.rows.stop + rows))

    def add(self, layer: int, branch: torch.Tensor) -> None:
        """``branch``: (batch, positions, channels), λ already applied."""
        norms = branch[self.rows].detach().float().norm(dim=-1).cpu()
        self.sums[layer] = self.sums[layer] + norms if layer in self.sums else norms

    def maps(self, steps: int) -> list[np.ndarray]:
        """One (images, h, w) array per layer at its own resolution, averaged over ``steps`` and over the
        layer's transformer blocks (SDXL's modules hold 2 or 10; SD 1.5's one), so that layers compare."""
        height, width = self.latent_size
        images = self.rows.stop - self.rows.start
        result = []
        for layer, module in enumerate(self.architecture.modules):
            factor = self.architecture.stage(module.stage).downsampling
            shape = (images, shrink(height, factor), shrink(width, factor))
            total = self.sums.get(layer)
            mean = None if total is None else (total / (steps * len(module.blocks))).reshape(shape).numpy()
            result.append(np.zeros(shape, np.float32) if mean is None else mean)
        return result
