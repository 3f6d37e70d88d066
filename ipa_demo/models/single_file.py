"""One-file SD1.5 checkpoints and VAEs (the original LDM layout), read with diffusers' single-file loader.

diffusers can fetch the configs such a file needs from the Hub; we hand it our own SD1.5 folder
instead (``config=``), so loading works offline. Before loading, the file's keys say what it is:
anything but an SD1.x checkpoint is refused with a message naming what was found.
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
from transformers import CLIPTextModel

from ..errors import ModelLoadError

UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"
UNET_CROSS = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"
SD1_TEXT = "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight"
VAE_KEYS = ("first_stage_model.encoder.conv_in.weight", "encoder.conv_in.weight")

# What a key prefix says a file is, for files that are not SD1.x checkpoints (first match wins).
_OTHER_KINDS: tuple[tuple[str, str], ...] = (
    ("conditioner.embedders.", "an SDXL checkpoint (conditioner.embedders.* keys)"),
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


def _what_else(keys: list[str]) -> str:
    for prefix, description in _OTHER_KINDS:
        if any(key.startswith(prefix) for key in keys):
            return description
    if any("lora_A" in key or "lora_down" in key for key in keys):
        return "a LoRA: give it to --lora"
    sample = ", ".join(keys[:3]) or "no tensors"
    return f"an unknown layout ({len(keys)} tensors, e.g. {sample})"


def inspect_sd15_checkpoint(path: Path) -> CheckpointInfo:
    """What the loader needs to know, after making sure the file is an SD1.x checkpoint."""
    keys, shapes = _keys_and_shapes(path, (UNET_IN, UNET_CROSS))
    if UNET_IN not in shapes or SD1_TEXT not in keys:
        raise ModelLoadError(f"{path} is not an SD1.5 checkpoint: it looks like {_what_else(keys)}")
    in_channels = shapes[UNET_IN][1]
    if in_channels not in (4, 9):
        kind = "an instruct-pix2pix UNet" if in_channels == 8 else f"a UNet with {in_channels} input channels"
        raise ModelLoadError(f"{path} holds {kind}; SD1.5 text-to-image (4) and inpainting (9) UNets are supported")
    cross = shapes[UNET_CROSS][1] if UNET_CROSS in shapes else -1
    return CheckpointInfo(in_channels, cross)


@dataclass(frozen=True)
class SingleFileParts:
    unet: UNet2DConditionModel
    vae: AutoencoderKL
    text_encoder: CLIPTextModel


def load_sd15_single_file(path: Path, config_folder: Path, dtype: torch.dtype) -> SingleFileParts:
    """UNet, VAE and text encoder from one SD1.x file, configured from our SD1.5 folder."""
    info = inspect_sd15_checkpoint(path)
    expected = UNet2DConditionModel.load_config(config_folder / "unet")["cross_attention_dim"]
    if info.cross_attention_dim != expected:
        raise ModelLoadError(
            f"{path}: its UNet attends to text of width {info.cross_attention_dim}, SD1.5's to {expected}: "
            "not an SD1.5 checkpoint"
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
    except Exception as error:
        raise ModelLoadError(f"cannot load the SD1.5 checkpoint {path}: {error}") from None
    return SingleFileParts(unet, vae, text_encoder)


def load_vae_single_file(path: Path, config_folder: Path, dtype: torch.dtype) -> AutoencoderKL:
    keys, _ = _keys_and_shapes(path, ())
    if not any(key in keys for key in VAE_KEYS):
        raise ModelLoadError(f"{path} is not a VAE: it looks like {_what_else(keys)}")
    try:
        return AutoencoderKL.from_single_file(
            str(path), config=str(config_folder), subfolder="vae", local_files_only=True, torch_dtype=dtype
        )
    except Exception as error:
        raise ModelLoadError(f"cannot load the VAE {path}: {error}") from None
