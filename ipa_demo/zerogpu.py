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

from .architecture import SD15, Architecture

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
UNET_STEP_TFLOP = 1.6  # two 803 GFLOP SD 1.5 UNet passes (CFG), 512x512
VAE_DECODE_TFLOP = 2.5  # one 512x512 image (SD 1.5 and SDXL share the VAE's layout)
ACHIEVED_TFLOPS = (
    UNET_STEP_TFLOP * H100_EAGER_STEPS_PER_SECOND * GPU_DENSE_FP16_TFLOPS / H100_DENSE_FP16_TFLOPS
)  # about 22 TFLOP/s
STEP_SECONDS = UNET_STEP_TFLOP / ACHIEVED_TFLOPS  # one SD 1.5 step, one 512x512 image, with CFG: ~0.073
DECODE_SECONDS = VAE_DECODE_TFLOP / ACHIEVED_TFLOPS  # VAE decode of one 512x512 image: ~0.11
# Other models' steps scale STEP_SECONDS by their UNet's FLOPs, counted from the architecture
# description (``unet_pass_flop``): SDXL at 1024x1024 costs ~9.4 SD 1.5 steps at 512x512.
TEXT_TOKENS = 77
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


def unet_pass_flop(architecture: Architecture, height: int, width: int) -> float:
    """The multiply-adds (x2) of one UNet pass over one image, counted from the architecture's
    attention modules: each transformer block's projections, feed-forward (GEGLU, 4x) and attention
    over its stage's h/8 x w/8 / downsampling tokens, plus each module's projections in and out and the
    ResNet beside it. Blocks without attention are not counted: on SD 1.5 this gives 0.62 of the
    published 0.80 TFLOP at 512x512, on SDXL 5.8 TFLOP at 1024x1024; the time per FLOP is taken from
    SD 1.5's measured steps, so SD 1.5 at 512x512 costs exactly its measurement."""
    total = 0.0
    for module in architecture.modules:
        stage = architecture.stage(module.stage)
        tokens = architecture.feature_side(stage, height) * architecture.feature_side(stage, width)
        channels, text = stage.channels, architecture.cross_attention_dim
        total += 2 * tokens * channels**2 * (2 + 18)  # proj_in, proj_out; two 3x3 convolutions
        block = 2 * tokens * channels**2 * (4 + 2 + 12)  # q, k, v, out; cross q, out; GEGLU's 8C and 4C
        block += 2 * 2 * tokens * channels * (tokens + TEXT_TOKENS)  # scores and values, self and cross
        block += 2 * 2 * TEXT_TOKENS * text * channels  # cross-attention's keys and values of the text
        total += len(module.blocks) * block
    return total


def step_seconds(architecture: Architecture, height: int, width: int) -> float:
    """One denoising step with CFG for one image: SD 1.5's measured step, scaled by the UNet's FLOPs."""
    reference = unet_pass_flop(SD15, MEASURED_SIZE, MEASURED_SIZE)
    return STEP_SECONDS * unet_pass_flop(architecture, height, width) / reference


def estimate_gpu_seconds(
    settings: GenerationSettings, methods: int = 1, architecture: Architecture | None = None
) -> int:
    """GPU seconds to ask ZeroGPU for: ``methods`` generations of ``settings`` (a comparison runs
    one per method chosen) on a base model of ``architecture`` (None: the one the server serves under
    ``settings.base_model``, ``served_architecture``), from the steps, the size, the number of images
    and the methods on. img2img runs fewer steps than ``steps``; the estimate does not count on it.
    """
    if methods < 1:
        raise ValueError(f"methods must be at least 1, got {methods}")
    architecture = architecture or served_architecture(settings.base_model)
    pixels = settings.width * settings.height / MEASURED_SIZE**2
    guidance = 1.0 if settings.guidance > 1.0 else 0.5  # as pipeline.uses_guidance: no CFG halves the batch
    unet = step_seconds(architecture, settings.height, settings.width)
    step = unet * settings.num_images * guidance * _step_cost(settings)
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


# The architecture of each base model a ZeroGPU server serves, by the names requests give ("" is the
# default), recorded once at start-up by ``Engine.preload`` (ZeroGPU's duration functions get only
# a handler's arguments, not the engine). Unrecorded (not on ZeroGPU): SD 1.5's.
_served: dict[str, Architecture] = {}


def record_served_architectures(architectures: dict[str, Architecture]) -> None:
    _served.clear()
    _served.update(architectures)


def served_architecture(base_model: str) -> Architecture:
    """The recorded architecture of ``base_model``; an unknown name gets the costliest one (err long)."""
    if base_model in _served:
        return _served[base_model]
    return max(_served.values(), key=lambda served: len(served.blocks), default=SD15)
