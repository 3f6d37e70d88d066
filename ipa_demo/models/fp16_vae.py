"""The VAE an SDXL model decodes with in float16 when the user names none: ``madebyollin/sdxl-vae-fp16-fix``.

SDXL base's own VAE overflows in float16 (black or speckled images), so its config asks for a float32
upcast: a float32 copy of the VAE for each loaded model (``StableDiffusionModels.decoding_vae``), slower
and ~160 MB more. The fix was finetuned to stay in float16 range; where it is in the models folder or
the Hub cache (or can be fetched), SDXL in float16 uses it, and the PNG's ``VAE`` says so. A user's
``--vae`` always wins; in float32, or for SD 1.5, nothing changes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import torch

from ..errors import MissingModelError
from .catalog_sdxl import SDXL_VAE_FP16_FIX
from .download import HubError, download_hint
from .sources import ModelSources

SDXL_FAMILY = "sdxl"


def automatic_vae_path(
    family: str, dtype: torch.dtype, sources: ModelSources, report: Callable[[str], None] | None = None
) -> Path | None:
    """The fp16-fix VAE's folder for an SDXL model in float16, else None (said through ``report``)."""
    say = report or _to_stderr
    if family != SDXL_FAMILY or dtype != torch.float16:
        return None
    try:
        path = sources.resolve(SDXL_VAE_FP16_FIX)
    except (MissingModelError, HubError) as error:
        say(
            f"SDXL in float16: {SDXL_VAE_FP16_FIX.repo_id} is not available ({error}); the model's own VAE "
            f"decodes through a float32 copy instead ({download_hint(SDXL_VAE_FP16_FIX)}, or pass --vae)"
        )
        return None
    say(f"SDXL in float16: decoding with {SDXL_VAE_FP16_FIX.repo_id} (the stock VAE overflows); --vae chooses another")
    return path


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
