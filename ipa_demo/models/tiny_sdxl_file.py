"""The tiny SDXL twin as one ``.safetensors`` in the layout model sites publish SDXL fine-tunes in
(``ldm_layout_sdxl``), beside the tiny SD 1.5 file: ``user-models/tiny-sdxl.safetensors``.

Its weights are the tiny SDXL folder's, so a generation from the file must equal one from the folder.
"""

from __future__ import annotations

from pathlib import Path

from diffusers import AutoencoderKL, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextModel, CLIPTextModelWithProjection

from .ldm_layout_sdxl import sdxl_ldm_checkpoint
from .tiny_user import USER_MODELS

SDXL_SINGLE_FILE = f"{USER_MODELS}/tiny-sdxl.safetensors"


def write_sdxl_single_file(models_dir: Path, folder: Path) -> Path:
    """``folder``: the tiny SDXL diffusers folder already written."""
    state = sdxl_ldm_checkpoint(
        UNet2DConditionModel.from_pretrained(folder / "unet"),
        AutoencoderKL.from_pretrained(folder / "vae"),
        CLIPTextModel.from_pretrained(folder / "text_encoder"),
        CLIPTextModelWithProjection.from_pretrained(folder / "text_encoder_2"),
    )
    path = models_dir / SDXL_SINGLE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata={"format": "pt"})
    return path
