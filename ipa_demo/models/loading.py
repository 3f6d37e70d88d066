"""Loading each model from its folder onto one device and dtype, with errors that name the folder."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from diffusers import AutoencoderKL, ControlNetModel, PNDMScheduler, T2IAdapter, UNet2DConditionModel
from diffusers.image_processor import VaeImageProcessor
from PIL import Image
from transformers import CLIPTextModel, CLIPTokenizer, CLIPVisionModelWithProjection

from ..architecture import Architecture, describe
from ..errors import ModelLoadError
from ..sdxl.text import SDXLTextEncoders

if TYPE_CHECKING:
    from .single_file import SingleFileParts

ModuleT = TypeVar("ModuleT", bound=torch.nn.Module)


@dataclass(frozen=True)
class StableDiffusionModels:
    unet: UNet2DConditionModel
    vae: AutoencoderKL
    text_encoder: CLIPTextModel
    tokenizer: CLIPTokenizer
    scheduler_config: Mapping[str, Any]
    image_processor: VaeImageProcessor
    device: torch.device  # kept here: asking a module walks all its parameters
    dtype: torch.dtype
    two_encoders: SDXLTextEncoders | None = None  # SDXL: both encoders (the first is ``text_encoder``)
    vae_name: str | None = None  # the VAE in place of the model's own, as the PNG's ``VAE`` names it
    # The float32 copy of an overflowing float16 VAE, made on first decode; it goes with these models.
    _float32_vae: list[AutoencoderKL] = field(default_factory=list, init=False, repr=False, compare=False)
    _float32_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @property
    def vae_scale_factor(self) -> int:
        return vae_scale_factor(self.vae)

    @property
    def architecture(self) -> Architecture:
        """The loaded UNet's layout with this VAE's factor and the text encoders held here."""
        encoders = ("text_encoder",) if self.two_encoders is None else ("text_encoder", "text_encoder_2")
        return describe(self.unet.config, self.vae_scale_factor, encoders)

    def with_vae(self, vae: AutoencoderKL, name: str | None = None) -> StableDiffusionModels:
        return replace(
            self, vae=vae, image_processor=VaeImageProcessor(vae_scale_factor=vae_scale_factor(vae)), vae_name=name
        )

    def decoding_vae(self) -> AutoencoderKL:
        """The VAE to decode with: a float16 VAE whose config says it overflows there (``force_upcast``,
        SDXL base's) decodes through a float32 copy, made once for these models and freed with them."""
        if not needs_upcast(self.vae):
            return self.vae
        with self._float32_lock:
            if not self._float32_vae:  # a copy: the float16 model stays as requests share it
                self._float32_vae.append(copy.deepcopy(self.vae).to(torch.float32))
            return self._float32_vae[0]


def needs_upcast(vae: AutoencoderKL) -> bool:
    """A float16 VAE whose config says it overflows there (SDXL base's); ``madebyollin/sdxl-vae-fp16-fix``
    says it does not, and decodes in float16 as it is."""
    return vae.dtype == torch.float16 and bool(getattr(vae.config, "force_upcast", False))


def vae_scale_factor(vae: AutoencoderKL) -> int:
    return 2 ** (len(vae.config.block_out_channels) - 1)


def weights_variant(folder: Path, weights_name: str) -> str | None:
    """Prefer full-precision weights; fall back to the fp16 files a lean download fetches."""
    stem, _, suffix = weights_name.rpartition(".")
    if (folder / weights_name).exists() or not (folder / f"{stem}.fp16.{suffix}").exists():
        return None
    return "fp16"


def _diffusers_weights(folder: Path) -> dict[str, Any]:
    return {"variant": weights_variant(folder, "diffusion_pytorch_model.safetensors")}


def load_stable_diffusion(
    path: Path,
    device: torch.device | str,
    dtype: torch.dtype,
    parts: SingleFileParts | None = None,
    unet_folder: Path | None = None,
) -> StableDiffusionModels:
    """A diffusers folder; with ``parts`` (read from a single file) only its tokenizer(s) and scheduler;
    with ``unet_folder``, that UNet in place of the folder's own. A folder with a second text encoder
    (SDXL) loads both through ``SDXLTextEncoders``."""
    two_encoders = None
    try:
        if parts is None and (path / "text_encoder_2").is_dir():
            two_encoders = SDXLTextEncoders.from_folder(path, dtype)
        if parts is not None and parts.text_encoder_2 is not None:
            two_encoders = SDXLTextEncoders.from_folder(path, dtype, (parts.text_encoder, parts.text_encoder_2))
        if parts is not None:
            unet, vae, text_encoder = parts.unet, parts.vae, parts.text_encoder
        else:
            unet_path = unet_folder or path / "unet"
            unet = UNet2DConditionModel.from_pretrained(
                unet_path, torch_dtype=dtype, use_safetensors=True, **_diffusers_weights(unet_path)
            )
            vae = AutoencoderKL.from_pretrained(
                path / "vae", torch_dtype=dtype, use_safetensors=True, **_diffusers_weights(path / "vae")
            )
            text_encoder = two_encoders.encoders[0] if two_encoders is not None else CLIPTextModel.from_pretrained(
                path / "text_encoder",
                variant=weights_variant(path / "text_encoder", "model.safetensors"),
                dtype=dtype,
                use_safetensors=True,
            )
        tokenizer = CLIPTokenizer.from_pretrained(path / "tokenizer")
        scheduler_config = PNDMScheduler.load_config(path / "scheduler")  # any scheduler class reads it
    except Exception as error:
        raise ModelLoadError(f"cannot load Stable Diffusion from {path}: {error}") from None
    for module in (unet, vae, text_encoder, *(two_encoders.encoders if two_encoders is not None else ())):
        _ready(module, device)
    return StableDiffusionModels(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler_config=scheduler_config,
        image_processor=VaeImageProcessor(vae_scale_factor=vae_scale_factor(vae)),
        device=torch.device(device),
        dtype=dtype,
        two_encoders=two_encoders,
    )


def _ready(module: ModuleT, device: torch.device | str) -> ModuleT:
    return module.to(device).eval().requires_grad_(False)


def load_image_encoder(path: Path, device: torch.device | str, dtype: torch.dtype) -> CLIPVisionModelWithProjection:
    try:
        encoder = CLIPVisionModelWithProjection.from_pretrained(path, dtype=dtype, use_safetensors=True)
    except Exception as error:
        raise ModelLoadError(f"cannot load the image encoder from {path}: {error}") from None
    return _ready(encoder, device)


def load_controlnet(path: Path, device: torch.device | str, dtype: torch.dtype) -> ControlNetModel:
    try:
        model = ControlNetModel.from_pretrained(
            path, torch_dtype=dtype, use_safetensors=True, **_diffusers_weights(path)
        )
    except Exception as error:
        raise ModelLoadError(f"cannot load the ControlNet from {path}: {error}") from None
    return _ready(model, device)


def load_t2i_adapter(path: Path, device: torch.device | str, dtype: torch.dtype) -> T2IAdapter:
    # TencentARC publishes these as pickles only; diffusers reads .bin with torch.load(weights_only=True).
    try:
        model = T2IAdapter.from_pretrained(path, torch_dtype=dtype, **_diffusers_weights(path))
    except Exception as error:
        raise ModelLoadError(f"cannot load the T2I-Adapter from {path}: {error}") from None
    return _ready(model, device)


def load_depth_estimator(path: Path, device: torch.device | str) -> Callable[[Image.Image], Image.Image]:
    """A transformers depth-estimation pipeline (DPT, Depth Anything, ...) as image -> depth image.

    Safetensors where the folder has them; otherwise (DPT-hybrid MiDaS publishes only a pickle)
    transformers reads ``pytorch_model.bin`` with ``torch.load(weights_only=True)``, said here explicitly.
    """
    from transformers import pipeline

    weights = {"use_safetensors": True} if (path / "model.safetensors").exists() else {"weights_only": True}
    try:
        estimator = pipeline("depth-estimation", model=str(path), device=torch.device(device), model_kwargs=weights)
    except Exception as error:
        raise ModelLoadError(f"cannot load the depth estimator from {path}: {error}") from None
    return lambda image: estimator(image)["depth"]


def load_pose_estimator(path: Path, device: torch.device | str) -> Callable[[Image.Image], Image.Image]:
    """controlnet_aux's OpenPose, body only (what A1111 calls "openpose"), as image -> pose image.

    ``Body`` reads its pickle with a bare ``torch.load``; it is built here instead, so that the
    file is read with ``weights_only=True`` whatever torch's default.
    """
    from controlnet_aux.open_pose import OpenposeDetector, util
    from controlnet_aux.open_pose.body import Body
    from controlnet_aux.open_pose.model import bodypose_model

    weights = path / "body_pose_model.pth"
    try:
        body = Body.__new__(Body)
        body.model = bodypose_model()
        state = torch.load(weights, map_location="cpu", weights_only=True)
        body.model.load_state_dict(util.transfer(body.model, state))
        body.model.eval().to(device)
    except Exception as error:
        raise ModelLoadError(f"cannot load the OpenPose body model from {weights}: {error}") from None
    detector = OpenposeDetector(body)

    def estimate(image: Image.Image) -> Image.Image:
        side = min(image.size)  # detect at the generation size, not controlnet_aux's default 512
        return detector(image, detect_resolution=side, image_resolution=side, include_hand=False, include_face=False)

    return estimate
