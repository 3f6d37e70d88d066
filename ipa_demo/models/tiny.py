"""A tiny random stand-in for every real model, written offline in the real models' layout.

The set has the real topologies where the code under test depends on them (SD1.5's 16
cross-attention layers, a VAE that downsamples by 8, a 257-token image encoder, the official
IP-Adapter checkpoint keys; SDXL base's 70 in ``tiny_sdxl.py``) and widths small enough to run a
whole generation in milliseconds on a CPU. Every weight is drawn from a seed, so the files are
byte-identical for a given seed; the few whose scale decides whether a conditioner's input reaches
the image are set in ``tiny_response``.
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import diffusers
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel

from ..architecture import SD15_CONFIG, unet_config
from .catalog import (
    CONTROLNETS,
    DEPTH_ESTIMATORS,
    IMAGE_ENCODER,
    IP_ADAPTERS,
    POSE_ESTIMATOR,
    SD15,
    T2I_ADAPTERS,
    ModelSpec,
)
from .sources import ModelSources
from .specs import ALL_SPECS
from .tiny_depth import DEPTH_WRITERS
from .tiny_image_encoder import write_image_encoder
from .tiny_response import (
    T2I_IN_CHANNELS,
    denoising_skip,
    focused_self_attention,
    sharpen_posterior,
    write_controlnet,
    write_t2i_adapter,
)
from .tiny_sdxl import write_sdxl_set
from .tiny_user import write_user_models

# The widths grow 1:2:4:4 as SD1.5's 320:640:1280:1280, so a layer given another stage's width fails.
UNET_CHANNELS = (8, 16, 32, 32)
CROSS_ATTENTION_DIM = 32  # = the text encoder's hidden size, as 768 is on SD1.5
VAE_CHANNELS = (8, 16, 32, 32)
IMAGE_ENCODER_DIM = 32  # hidden size and projection size
PLUS_TOKENS = 16
PLUS_WIDTH = 32  # the Resampler's own width (768 on the real one)
PLUS_DEPTH = 4  # diffusers always builds a 4-block Resampler and loads it strictly
PLUS_HEADS = 1
PLUS_HEAD_DIM = 64  # diffusers derives heads = rows(to_q) // 64
NO_TWIN = {POSE_ESTIMATOR.key: "OpenPose's body model has one fixed size (209 MB); tests build one when needed"}
START_TOKEN = "<|startoftext|>"
END_TOKEN = "<|endoftext|>"
MAX_TOKENS = 77
# A few merges, so that "a photo of a cat" becomes 5 tokens of 4 distinct ids, not 16 letters.
MERGES = ("p h", "o t", "ph ot", "phot o</w>", "o f</w>", "c a", "ca t</w>", "t h", "th e</w>", "o g</w>", "d og</w>")

# The real SD1.5 scheduler_config.json; clip_sample is not a PNDM argument but the real file has it.
SCHEDULER_CONFIG: dict[str, Any] = {
    "_class_name": "PNDMScheduler",
    "_diffusers_version": diffusers.__version__,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "clip_sample": False,
    "trained_betas": None,
}
# Null safety checker and feature extractor: plain `StableDiffusionPipeline.from_pretrained(dir)` loads.
MODEL_INDEX: dict[str, Any] = {
    "_class_name": "StableDiffusionPipeline",
    "_diffusers_version": diffusers.__version__,
    "feature_extractor": [None, None],
    "image_encoder": [None, None],
    "requires_safety_checker": False,
    "safety_checker": [None, None],
    "scheduler": ["diffusers", "PNDMScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}


def write_tiny_models(models_dir: Path, seed: int = 0) -> Path:
    """Write the whole tiny model set under ``models_dir`` (laid out as ``sources.ModelSources`` expects)."""
    models_dir = Path(models_dir)
    sources = ModelSources(models_dir)
    unet = _write_sd15(sources.local_path(SD15), seed)
    _seed(seed, IMAGE_ENCODER.key)
    write_image_encoder(sources.local_path(IMAGE_ENCODER), hidden=IMAGE_ENCODER_DIM, embeds=IMAGE_ENCODER_DIM)
    for variant, spec in IP_ADAPTERS.items():
        _seed(seed, spec.key)
        _write_flat_safetensors(_ip_adapter_state_dict(unet, variant), sources.local_path(spec))
    for spec in CONTROLNETS.values():
        _seed(seed, spec.key)
        write_controlnet(unet, sources.local_path(spec))
    for name, spec in T2I_ADAPTERS.items():
        _seed(seed, spec.key)
        write_t2i_adapter(T2I_IN_CHANNELS[name], UNET_CHANNELS, sources.local_path(spec))
    for name, spec in DEPTH_ESTIMATORS.items():
        _seed(seed, spec.key)
        DEPTH_WRITERS[name](sources.local_path(spec))
    write_user_models(models_dir, sources.local_path(SD15), lambda component: _seed(seed, component))
    write_sdxl_set(models_dir, sources.local_path(SD15), lambda component: _seed(seed, f"sdxl/{component}"))
    for spec in (spec for spec in ALL_SPECS if spec.key not in NO_TWIN):
        _add_fp16_variant_names(models_dir / spec.repo_name, spec)
    for path in models_dir.rglob("*.safetensors"):
        path.chmod(0o644)  # safetensors creates files readable by their owner only, unlike a Hub download
    return models_dir


def _seed(seed: int, component: str) -> None:
    """Seed torch for one component; each gets its own stream so no two share weights."""
    torch.manual_seed(seed * 1_000_003 + zlib.crc32(component.encode()))


# --- Stable Diffusion 1.5 ------------------------------------------------------------------------


def _write_sd15(folder: Path, seed: int) -> UNet2DConditionModel:
    vocab = _write_tokenizer(folder / "tokenizer")
    _seed(seed, "text_encoder")
    _text_encoder(vocab).save_pretrained(folder / "text_encoder")
    _seed(seed, "vae")
    _vae().save_pretrained(folder / "vae")
    _seed(seed, "unet")
    unet = _unet()
    denoising_skip(unet)
    focused_self_attention(unet)
    unet.save_pretrained(folder / "unet")
    _write_json(folder / "scheduler" / "scheduler_config.json", SCHEDULER_CONFIG)
    _write_json(folder / "model_index.json", MODEL_INDEX)
    return unet


def _unet() -> UNet2DConditionModel:
    """SD 1.5's own UNet config (the one the architecture description reads), with tiny widths."""
    return UNet2DConditionModel.from_config(
        unet_config(SD15_CONFIG) | {"block_out_channels": UNET_CHANNELS, "norm_num_groups": 4,
                                    "cross_attention_dim": CROSS_ATTENTION_DIM,
                                    "attention_head_dim": 2}  # a head count on SD1.5's config (8 there)
    )  # fmt: skip


def _vae() -> AutoencoderKL:
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * len(VAE_CHANNELS),
        up_block_types=("UpDecoderBlock2D",) * len(VAE_CHANNELS),
        block_out_channels=VAE_CHANNELS,
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=512,
        scaling_factor=0.18215,
    )
    sharpen_posterior(vae)
    return vae


def _text_encoder(vocab: dict[str, int]) -> CLIPTextModel:
    config = CLIPTextConfig(
        vocab_size=len(vocab),
        hidden_size=CROSS_ATTENTION_DIM,
        intermediate_size=4 * CROSS_ATTENTION_DIM,
        projection_dim=CROSS_ATTENTION_DIM,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=MAX_TOKENS,
        hidden_act="quick_gelu",
        bos_token_id=vocab[START_TOKEN],
        eos_token_id=vocab[END_TOKEN],
        pad_token_id=vocab[END_TOKEN],
    )
    return CLIPTextModel(config)


# --- Tokenizer -----------------------------------------------------------------------------------


def _write_tokenizer(folder: Path) -> dict[str, int]:
    """Write CLIP's four tokenizer files; ``CLIPTokenizer.from_pretrained(folder)`` reads them."""
    vocab = _vocab()
    folder.mkdir(parents=True, exist_ok=True)
    _write_json(folder / "vocab.json", vocab)
    (folder / "merges.txt").write_text("".join(f"{line}\n" for line in ("#version: 0.2", *MERGES)), encoding="utf-8")
    special = {"bos_token": START_TOKEN, "eos_token": END_TOKEN, "pad_token": END_TOKEN, "unk_token": END_TOKEN}
    _write_json(folder / "special_tokens_map.json", special)
    config = {"tokenizer_class": "CLIPTokenizer", "model_max_length": MAX_TOKENS, "do_lower_case": True}
    _write_json(folder / "tokenizer_config.json", config | special)
    return vocab


def _vocab() -> dict[str, int]:
    """Every byte's character, alone and word-final, then the merges, then the two specials (last, as in CLIP)."""
    characters = _byte_characters()
    tokens = characters + [c + "</w>" for c in characters] + [merge.replace(" ", "") for merge in MERGES]
    tokens += [START_TOKEN, END_TOKEN]
    return {token: index for index, token in enumerate(tokens)}


def _byte_characters() -> list[str]:
    """The byte-level BPE alphabet: printable Latin-1 bytes stand for themselves, the other
    bytes are shifted to code points from 256 up so that no byte maps to whitespace or a control."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    shifted = (byte for byte in range(256) if byte not in printable)
    characters = {byte: chr(byte) for byte in printable}
    characters |= {byte: chr(256 + offset) for offset, byte in enumerate(shifted)}
    return [characters[byte] for byte in range(256)]


# --- IP-Adapter image encoder and checkpoints ---------------------------------------------------




def _ip_adapter_state_dict(unet: UNet2DConditionModel, variant: str) -> dict[str, torch.Tensor]:
    """An IP-Adapter checkpoint with the official h94 flat keys (``image_proj.*``, ``ip_adapter.*``)."""
    image_proj = {
        "base": _linear_projection,
        "light": _linear_projection,
        "plus": _resampler,
        "plus-face": _resampler,
        "full-face": _full_face_projection,
    }[variant]()
    state = {f"image_proj.{key}": value for key, value in image_proj.items()}
    for key_id, width in _cross_attention_layers(unet):
        state[f"ip_adapter.{key_id}.to_k_ip.weight"] = _weight(width, CROSS_ATTENTION_DIM)
        state[f"ip_adapter.{key_id}.to_v_ip.weight"] = _weight(width, CROSS_ATTENTION_DIM)
    return state


def _cross_attention_layers(unet: UNet2DConditionModel) -> Iterator[tuple[int, int]]:
    """(checkpoint index, width) of each cross-attention layer in ``unet.attn_processors`` order.

    The official checkpoints number every attention layer (self-attention even, cross odd) and
    store only the cross-attention ones: 1, 3, ..., 31 on SD1.5.
    """
    names = [name for name in unet.attn_processors if name.endswith("attn2.processor")]
    for position, name in enumerate(names):
        attention = unet.get_submodule(name.removesuffix(".processor"))
        yield 2 * position + 1, attention.to_k.out_features


def _linear_projection() -> dict[str, torch.Tensor]:
    tokens = 4
    return {
        "proj.weight": _weight(tokens * CROSS_ATTENTION_DIM, IMAGE_ENCODER_DIM),
        "proj.bias": _bias(tokens * CROSS_ATTENTION_DIM),
        **_layer_norm("norm", CROSS_ATTENTION_DIM),
    }


def _full_face_projection() -> dict[str, torch.Tensor]:
    return {
        "proj.0.weight": _weight(IMAGE_ENCODER_DIM, IMAGE_ENCODER_DIM),
        "proj.0.bias": _bias(IMAGE_ENCODER_DIM),
        "proj.2.weight": _weight(CROSS_ATTENTION_DIM, IMAGE_ENCODER_DIM),
        "proj.2.bias": _bias(CROSS_ATTENTION_DIM),
        **_layer_norm("proj.3", CROSS_ATTENTION_DIM),
    }


def _resampler() -> dict[str, torch.Tensor]:
    """IP-Adapter Plus's Resampler, named as in the official repo's ``resampler.py``."""
    dim, inner = PLUS_WIDTH, PLUS_HEADS * PLUS_HEAD_DIM
    state = {
        "latents": torch.randn(1, PLUS_TOKENS, dim) / dim**0.5,
        "proj_in.weight": _weight(dim, IMAGE_ENCODER_DIM),
        "proj_in.bias": _bias(dim),
        "proj_out.weight": _weight(CROSS_ATTENTION_DIM, dim),
        "proj_out.bias": _bias(CROSS_ATTENTION_DIM),
        **_layer_norm("norm_out", CROSS_ATTENTION_DIM),
    }
    for layer in range(PLUS_DEPTH):
        attention, feed_forward = f"layers.{layer}.0", f"layers.{layer}.1"
        state |= _layer_norm(f"{attention}.norm1", dim)
        state |= _layer_norm(f"{attention}.norm2", dim)
        state[f"{attention}.to_q.weight"] = _weight(inner, dim)
        state[f"{attention}.to_kv.weight"] = _weight(2 * inner, dim)
        state[f"{attention}.to_out.weight"] = _weight(dim, inner)
        state |= _layer_norm(f"{feed_forward}.0", dim)
        state[f"{feed_forward}.1.weight"] = _weight(4 * dim, dim)
        state[f"{feed_forward}.3.weight"] = _weight(dim, 4 * dim)
    return state


def _weight(rows: int, columns: int) -> torch.Tensor:
    # std 1/sqrt(fan_in) keeps activations at unit scale, so the adapter's tokens matter.
    return torch.randn(rows, columns) / columns**0.5


def _bias(size: int) -> torch.Tensor:
    return 0.02 * torch.randn(size)


def _layer_norm(prefix: str, size: int) -> dict[str, torch.Tensor]:
    return {f"{prefix}.weight": torch.ones(size), f"{prefix}.bias": torch.zeros(size)}


# --- Files ---------------------------------------------------------------------------------------


def _write_flat_safetensors(state: dict[str, torch.Tensor], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({key: value.contiguous() for key, value in state.items()}, str(path), metadata={"format": "pt"})


def _add_fp16_variant_names(repo_root: Path, spec: ModelSpec) -> None:
    """Give each weights file also the fp16-variant name that the real download has.

    Only the fp16 variants of SD1.5 and the ControlNets are downloaded (see ``spec.files``), so
    loading them needs ``variant="fp16"``, which refuses a folder without such files. With both
    names (hard links to the same float32 bytes) the tiny set loads with or without the variant.
    """
    for pattern in spec.files:
        if ".fp16." in pattern:
            variant = repo_root / pattern
            _link(variant.with_name(variant.name.replace(".fp16.", ".")), variant)


def _link(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # a filesystem without hard links
        shutil.copyfile(source, target)


def _write_json(path: Path, content: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


__all__ = ["write_tiny_models"]
