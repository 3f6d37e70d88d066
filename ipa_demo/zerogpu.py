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

from .architecture import SD15

if TYPE_CHECKING:
    from .settings import GenerationSettings

Handler = TypeVar("Handler", bound=Callable[..., Any])

# The GPU a task gets: ZeroGPU's default size is half an NVIDIA RTX PRO 6000 Blackwell (48 GB of its
# 96; Hugging Face's "Spaces ZeroGPU" docs). NVIDIA's figures for the whole Server Edition card:
# 500 TFLOP/s dense FP16/BF16 on the tensor cores (1,000 with 2:4 sparsity, which we do not use) and
# 1,597 GB/s of GDDR7 (nvidia.com/en-us/data-center/rtx-pro-6000-blackwell-server-edition). Half:
GPU_DENSE_FP16_TFLOPS = 500 / 2
GPU_MEMORY_GB_PER_S = 1597 / 2
# What eager diffusers achieves, from the DESIGN's measurement: about 54 SD1.5 CFG steps a second at
# 512x512 on an H100 SXM (989.5 TFLOP/s dense FP16). Scaling by peak FLOP/s counts every millisecond
# of that as compute; kernel launches are part of it and do not slow down on a smaller GPU, so the
# estimate errs long. Memory is not the limit: a step reads the fp16 UNet (1.7 GB) about once, some
# 2 ms at GPU_MEMORY_GB_PER_S, against some 70 ms of compute.
H100_DENSE_FP16_TFLOPS = 989.5
MEASURED_SIZE = SD15.default_size  # the figures below are SD 1.5's, at its default 512x512
H100_EAGER_STEPS_PER_SECOND = 54
UNET_STEP_TFLOP = 1.6  # two 803 GFLOP UNet passes (CFG), 512x512
VAE_DECODE_TFLOP = 2.5  # one 512x512 image
ACHIEVED_TFLOPS = (
    UNET_STEP_TFLOP * H100_EAGER_STEPS_PER_SECOND * GPU_DENSE_FP16_TFLOPS / H100_DENSE_FP16_TFLOPS
)  # about 22 TFLOP/s
STEP_SECONDS = UNET_STEP_TFLOP / ACHIEVED_TFLOPS  # one denoising step, one 512x512 image, with CFG: ~0.073
DECODE_SECONDS = VAE_DECODE_TFLOP / ACHIEVED_TFLOPS  # VAE decode of one 512x512 image: ~0.11
# Once per task: moving the preloaded weights to the GPU (about 5.5 GB in fp16 with every model, under
# a second over PCIe), the text and CLIP image encodings (tens of ms), PNG encoding, and the slack of
# a fresh CUDA context (kernel selection on first use).
FIXED_SECONDS = 4.0
PREPROCESS_SECONDS = 2.0  # a depth map (Depth Anything V2 Small by default), T2I-Adapter features
SAFETY = 1.5  # a task that runs past its request is cut off, so err on the long side
MIN_SECONDS = 5  # a floor for the estimate; the fixed part alone already asks for 6

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
    pixels = settings.width * settings.height / MEASURED_SIZE**2
    guidance = 1.0 if settings.guidance > 1.0 else 0.5  # as pipeline.uses_guidance: no CFG halves the batch
    step = STEP_SECONDS * pixels**1.25 * settings.num_images * guidance * _step_cost(settings)
    decode = DECODE_SECONDS * pixels * settings.num_images
    structure_units = (*settings.controlnet_units, *settings.t2i_units)
    preprocess = PREPROCESS_SECONDS * sum(unit.is_active for unit in structure_units)  # one map per unit
    per_generation = settings.steps * step + decode + preprocess
    return max(MIN_SECONDS, math.ceil(SAFETY * (FIXED_SECONDS + methods * per_generation)))


def _step_cost(settings: GenerationSettings) -> float:
    cost = 1.0
    cost += IP_ADAPTER_COST * sum(unit.is_active for unit in settings.ip_units)
    cost += CONTROLNET_COST * sum(unit.is_active for unit in settings.controlnet_units)
    if settings.reference_only.is_active:
        cost += REFERENCE_FAST_COST if settings.reference_only.fast else REFERENCE_COST
    return cost
