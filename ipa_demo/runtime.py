"""Choosing the device and precision once, at start-up, and the speed settings that go with them.

Decisions, for the record:
- fp16 on CUDA, fp32 on the CPU (half precision is slow and lossy there).
- Attention is PyTorch's SDPA everywhere: our UNet processors wrap diffusers' ``AttnProcessor2_0``,
  the VAE keeps diffusers' default (also SDPA) and transformers 5 picks "sdpa" for CLIP. Nothing to set.
- The VAE stays in fp16 and is never upcast. SD1.5's ``vae/config.json`` says ``force_upcast: true``,
  but only diffusers' SDXL-family pipelines read that flag: it exists for SDXL's VAE, which overflows
  in fp16. SD1.5's VAE decodes in fp16 without NaNs, and ``StableDiffusionPipeline`` (our parity
  reference) runs it in fp16 too.
- channels_last for the UNet on CUDA (convolutions pick faster NHWC kernels); optional elsewhere.
- ``torch.compile`` of the UNet is opt-in, CUDA only, and refused on ZeroGPU, which does not support it.
- CPU offload is opt-in, for small GPUs: forward pre-hooks of our own (no accelerate hooks) move
  one stage of models at a time to the GPU; see ``ModelOffload``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import torch
from torch import nn

from .errors import OutOfMemoryError
from .settings import SettingsError
from .zerogpu import on_zero_gpu

if TYPE_CHECKING:
    from .models.loading import StableDiffusionModels

DTYPE_NAMES = {torch.float16: "fp16", torch.bfloat16: "bf16", torch.float32: "fp32", torch.float64: "fp64"}


def pick_device(requested: str = "auto") -> tuple[torch.device, torch.dtype]:
    """cuda when present (fp16), else cpu (fp32)."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise SettingsError("device", f"{requested!r} is not a torch device") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SettingsError("device", "CUDA was asked for but no CUDA GPU is visible")
    return device, torch.float16 if device.type == "cuda" else torch.float32


def describe_device(device: torch.device | str, dtype: torch.dtype) -> str:
    """One line for the UI: ``cuda:0 NVIDIA H100 80GB HBM3, fp16`` or ``cpu, fp32``."""
    device = torch.device(device)
    precision = DTYPE_NAMES.get(dtype, str(dtype).removeprefix("torch."))
    if device.type != "cuda":
        return f"{device.type}, {precision}"
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} {torch.cuda.get_device_name(index)}, {precision}"


def prefers_channels_last(device: torch.device | str) -> bool:
    """The default for ``apply_speed_settings(channels_last=...)``: on for CUDA, off on the CPU."""
    return torch.device(device).type == "cuda"


def check_compile_supported(device: torch.device | str) -> None:
    """Refuse ``torch.compile`` where it cannot pay off, with a message that says why."""
    if on_zero_gpu():
        raise SettingsError("compile_unet", "ZeroGPU does not support torch.compile; run without it")
    if torch.device(device).type != "cuda":
        raise SettingsError(
            "compile_unet",
            "torch.compile is offered on CUDA only (on the CPU it compiles for minutes and gains little)",
        )


def apply_speed_settings(models: StableDiffusionModels, compile_unet: bool, channels_last: bool) -> None:
    """Tune the loaded UNet in place (the models object is shared and stays the same object).

    channels_last changes only the memory layout: outputs stay equal up to float rounding.
    compile_unet compiles the UNet's forward in place (``nn.Module.compile``), so the processors,
    ``attn_processors`` and everything that holds ``models.unet`` keep working. The first call of
    each new shape (size, batch, CFG on/off) compiles for a while.
    """
    if compile_unet:
        check_compile_supported(models.device)
    if channels_last:
        models.unet.to(memory_format=torch.channels_last)
    if compile_unet:
        models.unet.compile()


class ModelOffload:
    """Keep one stage of models on the GPU at a time and the others in CPU memory.

    A stage is a group of modules that run together: "text" (text encoder), "image" (CLIP image
    encoder), "unet" (UNet with the ControlNets and T2I-Adapters that run beside it each step), "vae".
    When any module of a stage (or one of its direct children: ``vae.decode`` never calls
    ``vae.forward``) starts a forward pass, the whole stage moves to the GPU and the other stages
    move out. A generation thus moves each stage once, never per step; peak GPU memory is the
    largest stage. It assumes one generation at a time (the UI's queue runs one).

    ``models.device`` stays the GPU: inputs are made there, as without offload. A module's own
    ``.device`` says where it is parked, so code must put small tensors (IP-Adapter weights, ...)
    on ``models.device``, not on ``unet.device``.
    """

    def __init__(self, device: torch.device | str, storage: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.storage = torch.device(storage)
        self.active: str | None = None
        self._stages: dict[str, list[nn.Module]] = {}
        self._lock = threading.Lock()

    def add(self, module: nn.Module, stage: str) -> None:
        with self._lock:
            self._stages.setdefault(stage, []).append(module)
            module.to(self.device if stage == self.active else self.storage)

        def before_forward(hooked: nn.Module, args: tuple[object, ...]) -> None:  # None: keep the inputs
            self.activate(stage)

        for hooked in (module, *module.children()):
            hooked.register_forward_pre_hook(before_forward)

    def replace_base(self, old: StableDiffusionModels, new: StableDiffusionModels) -> None:
        """After a base-model switch: the old text encoder, UNet and VAE leave their stages, the new join."""
        with self._lock:
            for stage, name in (("text", "text_encoder"), ("unet", "unet"), ("vae", "vae")):
                self._stages[stage] = [m for m in self._stages[stage] if m is not getattr(old, name)]
        for stage, name in (("text", "text_encoder"), ("unet", "unet"), ("vae", "vae")):
            self.add(getattr(new, name), stage)

    def activate(self, stage: str) -> None:
        if stage == self.active:  # the common case, once per forward of every hooked module
            return
        with self._lock:
            for name, modules in self._stages.items():
                if name != stage:
                    for module in modules:
                        module.to(self.storage)
            for module in self._stages[stage]:
                module.to(self.device)
            self.active = stage


def enable_model_offload(models: StableDiffusionModels, storage: torch.device | str = "cpu") -> ModelOffload:
    """Park the SD1.5 models in CPU memory; they come to ``models.device`` stage by stage when run.

    Modules loaded later (image encoder, ControlNets, T2I-Adapters) join with ``offload.add``.
    """
    offload = ModelOffload(models.device, storage)
    offload.add(models.text_encoder, "text")
    offload.add(models.unet, "unet")
    offload.add(models.vae, "vae")
    if models.device.type == "cuda":
        torch.cuda.empty_cache()
    return offload


def quiet_library_output() -> None:
    """Loading bars and notices from diffusers/transformers are noise on our command line."""
    import diffusers
    import transformers

    for library in (diffusers, transformers):
        library.utils.logging.set_verbosity_error()
        library.utils.logging.disable_progress_bar()


@contextmanager
def out_of_memory_as_user_error(device: torch.device) -> Iterator[None]:
    """A device out of memory as the user's error (smaller size, fewer images, ...), its cache freed."""
    try:
        yield
    except torch.OutOfMemoryError:
        if device.type == "cuda":
            torch.cuda.empty_cache()  # what the failed request held is free for the next one
        raise OutOfMemoryError(str(device)) from None
