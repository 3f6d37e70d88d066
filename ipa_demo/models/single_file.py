"""One-file SD1.5 and SDXL checkpoints and VAEs (the original LDM layout), read with diffusers'
single-file loader.

diffusers can fetch the configs such a file needs from the Hub; we hand it our own folder of the
file's family instead (``config=``), so loading works offline. Before loading, the file's keys say
what it is: an SD1.x checkpoint (``cond_stage_model.transformer.*``), an SDXL one (CLIP-L and OpenCLIP
bigG under ``conditioner.embedders.0/1``); anything else is refused with a message naming what was found.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from diffusers.loaders.single_file_utils import create_diffusers_clip_model_from_ldm
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import CLIPTextModel, CLIPTextModelWithProjection

from ..architecture.checkpoint_keys import SDXL_TEXTS, family_of_keys
from ..errors import ModelLoadError, VAELoadError

UNET_PREFIX = "model.diffusion_model."
UNET_IN = UNET_PREFIX + "input_blocks.0.0.weight"
VAE_KEYS = ("first_stage_model.encoder.conv_in.weight", "encoder.conv_in.weight")

# What a key prefix says a file is, for files that are not SD1.x checkpoints (first match wins).
_OTHER_KINDS: tuple[tuple[str, str], ...] = (
    ("conditioner.embedders.0.model.", "an SDXL refiner checkpoint (conditioner.embedders.0.model.* keys)"),
    ("cond_stage_model.model.", "an SD2.x checkpoint (OpenCLIP text encoder, cond_stage_model.model.* keys)"),
    ("model.diffusion_model.joint_blocks.", "an SD3 checkpoint (joint_blocks)"),
    ("model.diffusion_model.double_blocks.", "a FLUX checkpoint (double_blocks)"),
    ("double_blocks.", "a FLUX checkpoint (double_blocks)"),
    ("lora_unet_", "a LoRA (lora_unet_* keys): give it to --lora"),
    ("lora_te_", "a LoRA (lora_te_* keys): give it to --lora"),
    ("image_proj.", "an IP-Adapter (image_proj.* keys): give it to --ip-checkpoint"),
    ("control_model.", "a ControlNet"),
    ("encoder.conv_in.", "a VAE alone: give it to --vae"),
    ("first_stage_model.", "a VAE alone (first_stage_model.* keys only): give it to --vae"),
)


@dataclass(frozen=True)
class CheckpointInfo:
    family: str  # "sd15" or "sdxl", as ``Architecture.family``
    in_channels: int  # 4, or 9 for an inpainting UNet
    cross_attention_dim: int


def sha256_of(path: Path) -> str:
    """The file's whole SHA-256, in hex (what A1111 lists as a checkpoint's ``sha256``)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 24), b""):
            digest.update(chunk)
    return digest.hexdigest()


def short_hash(path: Path) -> str:
    """A1111's "Model hash": the first 10 hex digits of the file's SHA-256."""
    return sha256_of(path)[:10]


_hashes: dict[tuple[str, int, int], str] = {}
_hashes_lock = threading.Lock()


def file_hash(path: Path) -> str:
    """``short_hash``, read once per file (``file_sha256``)."""
    return file_sha256(path)[:10]


def file_sha256(path: Path) -> str:
    """``sha256_of``, read once per file: cached by its real path, size and modification time.

    A PNG naming an unknown ``Model hash`` is compared with every configured single file; without
    the cache each such request would read them all again (gigabytes for a few hundred bytes).
    """
    status = path.stat()
    key = (str(path.resolve()), status.st_size, status.st_mtime_ns)
    with _hashes_lock:  # one reader per file at a time: two requests never read the same file twice
        if key not in _hashes:
            _hashes[key] = sha256_of(path)
        return _hashes[key]


def _keys_and_shapes(path: Path, wanted: tuple[str, ...]) -> tuple[list[str], dict[str, tuple[int, ...]]]:
    if path.suffix.lower() != ".safetensors":
        raise ModelLoadError(
            f"{path}: only .safetensors single files are loaded (a .ckpt is a pickle that can run code; "
            "convert it to safetensors first)"
        )
    try:
        with safe_open(str(path), framework="pt") as file:
            keys = list(file.keys())
            shapes = {key: tuple(file.get_slice(key).get_shape()) for key in wanted if key in keys}
    except Exception as error:
        raise ModelLoadError(f"cannot read {path} as safetensors: {error}") from None
    return keys, shapes


_SDXL_PARTS = {
    "the UNet (model.diffusion_model.*)": UNET_IN,
    "CLIP-L (conditioner.embedders.0.transformer.*)": SDXL_TEXTS[0],
    "OpenCLIP bigG (conditioner.embedders.1.model.*)": SDXL_TEXTS[1],
}


def _what_else(keys: list[str]) -> str:
    if any(key.startswith("conditioner.embedders.") for key in keys) and not any(
        key.startswith("conditioner.embedders.0.model.") for key in keys  # the refiner's, below
    ):
        present = set(keys)
        missing = [part for part, key in _SDXL_PARTS.items() if key not in present]
        return f"an SDXL checkpoint without {' and '.join(missing)}"
    for prefix, description in _OTHER_KINDS:
        if any(key.startswith(prefix) for key in keys):
            return description
    if any("lora_A" in key or "lora_down" in key for key in keys):
        return "a LoRA: give it to --lora"
    sample = ", ".join(keys[:3]) or "no tensors"
    return f"an unknown layout ({len(keys)} tensors, e.g. {sample})"


def inspect_checkpoint(path: Path) -> CheckpointInfo:
    """What the loader needs to know, after making sure the file is an SD1.x or SDXL checkpoint."""
    keys, _ = _keys_and_shapes(path, ())
    cross_key = next((key for key in keys if key.startswith(UNET_PREFIX) and key.endswith("attn2.to_k.weight")), "")
    _, shapes = _keys_and_shapes(path, (UNET_IN, cross_key))  # every text attention reads the same width
    family = family_of_keys(keys)
    if UNET_IN not in shapes or family is None:
        raise ModelLoadError(
            f"--base-model {path} is not an SD 1.5 or SDXL checkpoint: it looks like {_what_else(keys)}"
        )
    in_channels = shapes[UNET_IN][1]
    if in_channels not in (4, 9):
        kind = "an instruct-pix2pix UNet" if in_channels == 8 else f"a UNet with {in_channels} input channels"
        raise ModelLoadError(
            f"--base-model {path} holds {kind}; text-to-image (4) and inpainting (9) UNets are supported"
        )
    cross = shapes[cross_key][1] if cross_key in shapes else -1
    return CheckpointInfo(family, in_channels, cross)


@dataclass(frozen=True)
class SingleFileParts:
    unet: UNet2DConditionModel
    vae: AutoencoderKL
    text_encoder: CLIPTextModel
    text_encoder_2: CLIPTextModelWithProjection | None = None  # SDXL's second encoder


_TITLES = {"sd15": "SD1.5", "sdxl": "SDXL"}


def load_single_file(
    path: Path, info: CheckpointInfo, config_folder: Path, dtype: torch.dtype
) -> SingleFileParts:
    """UNet, VAE and text encoder(s) from one checkpoint (``inspect_checkpoint``), configured from a
    folder of its family: SD 1.5's, or SDXL's with its second text encoder."""
    title = _TITLES[info.family]
    expected = UNet2DConditionModel.load_config(config_folder / "unet")["cross_attention_dim"]
    if info.cross_attention_dim != expected:
        raise ModelLoadError(
            f"--base-model {path}: its UNet attends to text of width {info.cross_attention_dim}, {title}'s to "
            f"{expected}: not an {title} checkpoint"
        )
    config = {"config": str(config_folder), "local_files_only": True, "torch_dtype": dtype}
    try:
        checkpoint = load_file(str(path))
        unet = UNet2DConditionModel.from_single_file(
            checkpoint, subfolder="unet", in_channels=info.in_channels, **config
        )
        vae = AutoencoderKL.from_single_file(checkpoint, subfolder="vae", **config)
        text_encoder = create_diffusers_clip_model_from_ldm(
            CLIPTextModel, checkpoint, subfolder="text_encoder", **config
        )
        text_encoder_2 = None
        if info.family == "sdxl":
            text_encoder_2 = create_diffusers_clip_model_from_ldm(
                CLIPTextModelWithProjection, checkpoint, subfolder="text_encoder_2", **config
            )
    except Exception as error:
        raise ModelLoadError(f"--base-model: cannot load the {title} checkpoint {path}: {error}") from None
    return SingleFileParts(unet, vae, text_encoder, text_encoder_2)


def load_vae_single_file(path: Path, config_folder: Path, dtype: torch.dtype) -> AutoencoderKL:
    keys, _ = _keys_and_shapes(path, ())
    if not any(key in keys for key in VAE_KEYS):
        raise VAELoadError(f"{path} is not a VAE: it looks like {_what_else(keys)}")
    try:
        return AutoencoderKL.from_single_file(
            str(path), config=str(config_folder), subfolder="vae", local_files_only=True, torch_dtype=dtype
        )
    except Exception as error:
        raise VAELoadError(f"cannot load the VAE {path}: {error}") from None
