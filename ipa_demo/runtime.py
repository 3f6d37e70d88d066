"""Choosing the device and precision once, at start-up."""

from __future__ import annotations

import torch

from .settings import SettingsError


def pick_device(requested: str = "auto") -> tuple[torch.device, torch.dtype]:
    """cuda when present (fp16), else cpu (fp32: half precision is slow and lossy there)."""
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise SettingsError("device", f"{requested!r} is not a torch device") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SettingsError("device", "CUDA was asked for but no CUDA GPU is visible")
    return device, torch.float16 if device.type == "cuda" else torch.float32


def quiet_library_output() -> None:
    """Loading bars and notices from diffusers/transformers are noise on our command line."""
    import diffusers
    import transformers

    for library in (diffusers, transformers):
        library.utils.logging.set_verbosity_error()
        library.utils.logging.disable_progress_bar()
