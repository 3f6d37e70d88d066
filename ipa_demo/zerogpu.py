"""ZeroGPU on Hugging Face Spaces: ``spaces.GPU`` when running there, a plain call everywhere else.

A ZeroGPU task asks for its GPU time up front: too little and the task is cut off, too much and it
waits longer in the queue. ``estimate_gpu_seconds`` derives the request from the work a generation
does, so handlers pass it (through a small function of their own arguments) to ``gpu_task``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .settings import GenerationSettings

Handler = TypeVar("Handler", bound=Callable[..., Any])

# Costs on a ZeroGPU "large" slice (an H200 MIG 3g, about 45 % of an H200) in fp16, eager, with
# room to spare: the DESIGN's FLOP counts put one 512x512 CFG step (two UNet passes) at about
# 1.6 TFLOP, and eager diffusers runs some 50 such steps a second on a whole H100.
STEP_SECONDS = 0.08  # one denoising step, one 512x512 image, with CFG
DECODE_SECONDS = 0.15  # VAE decode of one 512x512 image
FIXED_SECONDS = 6.0  # taking the GPU, moving weights there, text and CLIP image encoding, PNGs
PREPROCESS_SECONDS = 2.0  # a depth map from DPT, T2I-Adapter features
SAFETY = 1.5  # a task that runs past its request is cut off, so err on the long side
MIN_SECONDS = 10

# Per-step cost of each method, relative to a plain step (DESIGN: "Numbers to aim at").
IP_ADAPTER_COST = 0.15  # 0.04 % more FLOPs but ~13 % more kernel launches
CONTROLNET_COST = 0.5  # a ControlNet pass is about half a UNet pass
REFERENCE_COST = 1.0  # reference-only: one more UNet pass over the reference, CFG-batched
REFERENCE_FAST_COST = 0.5  # ... or one more row of the step's batch in its fast mode (generous)


def on_zero_gpu() -> bool:
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "true")


def gpu_task(duration: Callable[..., int]) -> Callable[[Handler], Handler]:
    """Wrap a GPU event handler; ``duration`` gets the handler's arguments and returns seconds."""
    if not on_zero_gpu():
        return lambda handler: handler
    import spaces

    return spaces.GPU(duration=duration)  # type: ignore[no-any-return]


def estimate_gpu_seconds(settings: GenerationSettings, methods: int = 1) -> int:
    """GPU seconds to ask ZeroGPU for: ``methods`` generations of ``settings`` (a comparison runs
    one per method chosen), from the steps, the size, the number of images and the methods on.

    The UNet's cost grows a bit faster than the pixel count (self-attention over h/8 x w/8 tokens),
    hence the exponent. img2img runs fewer steps than ``steps``; the estimate does not count on it.
    """
    if methods < 1:
        raise ValueError(f"methods must be at least 1, got {methods}")
    pixels = settings.width * settings.height / 512**2
    guidance = 1.0 if settings.guidance > 1.0 else 0.5  # as pipeline.uses_guidance: no CFG halves the batch
    step = STEP_SECONDS * pixels**1.25 * settings.num_images * guidance * _step_cost(settings)
    decode = DECODE_SECONDS * pixels * settings.num_images
    preprocess = PREPROCESS_SECONDS if settings.needs_control_image else 0.0
    per_generation = settings.steps * step + decode + preprocess
    return max(MIN_SECONDS, math.ceil(SAFETY * (FIXED_SECONDS + methods * per_generation)))


def _step_cost(settings: GenerationSettings) -> float:
    cost = 1.0
    if settings.ip.is_active:
        cost += IP_ADAPTER_COST
    if settings.controlnet.is_active:
        cost += CONTROLNET_COST
    if settings.reference_only.is_active:
        cost += REFERENCE_FAST_COST if settings.reference_only.fast else REFERENCE_COST
    return cost
