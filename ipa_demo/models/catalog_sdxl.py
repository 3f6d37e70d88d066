"""The SDXL family's catalog entries (issue 25), beside ``catalog.py``'s SD 1.5 ones and in the same form.

``specs.ALL_SPECS`` holds them beside SD 1.5's: ``download`` without ``--only`` and the Space's preload
fetch them too (~20 GB). Each file below was checked against stored copies of its repo's Hub listing
(``docs/catalog-check.md``: the page and commit for each; no machine here reaches the live Hub), and is
the fp16 file where the repo publishes one; what people expect but is absent is in
``catalog.KNOWN_MISSING``. ``h94/IP-Adapter``'s ``sdxl_models/`` files were seen in the commit that added
them, not in a stored listing of main.
"""

from __future__ import annotations

from .catalog import CLIP_TOKENIZER_FILES, IMAGE_ENCODER, Kind, ModelSpec, _diffusers_folder, _hub_folder

SDXL_BASE = ModelSpec(
    key="sdxl",
    repo_id="stabilityai/stable-diffusion-xl-base-1.0",
    path_in_repo="",
    kind=Kind.FOLDER,
    files=(
        "model_index.json",
        "scheduler/scheduler_config.json",
        *(f"{folder}/{name}" for folder in ("tokenizer", "tokenizer_2") for name in CLIP_TOKENIZER_FILES),
        *_diffusers_folder("text_encoder", "model.fp16.safetensors"),
        *_diffusers_folder("text_encoder_2", "model.fp16.safetensors"),
        *_diffusers_folder("unet", "diffusion_pytorch_model.fp16.safetensors"),
        *_diffusers_folder("vae", "diffusion_pytorch_model.fp16.safetensors"),
    ),
    description="Stable Diffusion XL base 1.0",
)
# The 9-channel inpainting UNet; the rest of that repo is SDXL base's text encoders and VAE, so a
# models folder holds its unet/ alone and the engine takes the other parts from SDXL base
# (``base_model.is_unet_only``).
SDXL_INPAINTING_UNET = ModelSpec(
    key="sdxl-inpainting-unet",
    repo_id="diffusers/stable-diffusion-xl-1.0-inpainting-0.1",
    path_in_repo="unet",
    kind=Kind.FOLDER,
    files=_diffusers_folder("unet", "diffusion_pytorch_model.fp16.safetensors"),
    description="SDXL inpainting 0.1 UNet (9 input channels)",
)
# The stock SDXL VAE overflows in fp16 (black images); this one was finetuned not to.
SDXL_VAE_FP16_FIX = _hub_folder(
    "sdxl-vae-fp16-fix", "madebyollin/sdxl-vae-fp16-fix", "diffusion_pytorch_model.safetensors", "SDXL VAE fp16 fix"
)
# ip-adapter_sdxl reads the OpenCLIP ViT-bigG/14 encoder's image embeds (1280 wide); the three vit-h
# files read the ViT-H/14 encoder that SD 1.5's adapters use (1024 wide embeds, 1280 wide hidden states).
SDXL_IMAGE_ENCODER = ModelSpec(
    key="image_encoder_sdxl",
    repo_id="h94/IP-Adapter",
    path_in_repo="sdxl_models/image_encoder",
    kind=Kind.FOLDER,
    files=("sdxl_models/image_encoder/config.json", "sdxl_models/image_encoder/model.safetensors"),
    description="OpenCLIP ViT-bigG/14 image encoder for ip-adapter_sdxl",
)


def _sdxl_ip_adapter(key: str, description: str) -> ModelSpec:
    filename = f"{key}.safetensors"
    return ModelSpec(
        key=key,
        repo_id="h94/IP-Adapter",
        path_in_repo=f"sdxl_models/{filename}",
        kind=Kind.FILE,
        files=(f"sdxl_models/{filename}",),
        description=description,
    )


SDXL_IP_ADAPTERS: dict[str, ModelSpec] = {
    "base": _sdxl_ip_adapter("ip-adapter_sdxl", "IP-Adapter SDXL (4 tokens, ViT-bigG encoder)"),
    "vit-h": _sdxl_ip_adapter("ip-adapter_sdxl_vit-h", "IP-Adapter SDXL (4 tokens, ViT-H encoder)"),
    "plus": _sdxl_ip_adapter("ip-adapter-plus_sdxl_vit-h", "IP-Adapter Plus SDXL (16 tokens, ViT-H encoder)"),
    "plus-face": _sdxl_ip_adapter(
        "ip-adapter-plus-face_sdxl_vit-h", "IP-Adapter Plus Face SDXL (16 tokens, faces, ViT-H encoder)"
    ),
}
SDXL_IP_ENCODERS: dict[str, ModelSpec] = {  # the image encoder each SDXL variant was trained with
    "base": SDXL_IMAGE_ENCODER,
    "vit-h": IMAGE_ENCODER,
    "plus": IMAGE_ENCODER,
    "plus-face": IMAGE_ENCODER,
}
SDXL_CONTROLNETS: dict[str, ModelSpec] = {
    "canny": _hub_folder(
        "controlnet-canny-sdxl",
        "diffusers/controlnet-canny-sdxl-1.0",
        "diffusion_pytorch_model.fp16.safetensors",
        "ControlNet SDXL canny",
    ),
    "depth": _hub_folder(
        "controlnet-depth-sdxl",
        "diffusers/controlnet-depth-sdxl-1.0",
        "diffusion_pytorch_model.fp16.safetensors",
        "ControlNet SDXL depth",
    ),
    "openpose": _hub_folder(  # only a float32 pickle in diffusers' layout (see KNOWN_MISSING)
        "controlnet-openpose-sdxl",
        "thibaud/controlnet-openpose-sdxl-1.0",
        "diffusion_pytorch_model.bin",
        "ControlNet SDXL openpose (thibaud)",
    ),
}
SDXL_T2I_ADAPTERS: dict[str, ModelSpec] = {
    "canny": _hub_folder(
        "t2i-canny-sdxl",
        "TencentARC/t2i-adapter-canny-sdxl-1.0",
        "diffusion_pytorch_model.fp16.safetensors",
        "T2I-Adapter SDXL canny",
    ),
    "depth": _hub_folder(
        "t2i-depth-sdxl",
        "TencentARC/t2i-adapter-depth-midas-sdxl-1.0",
        "diffusion_pytorch_model.fp16.safetensors",
        "T2I-Adapter SDXL depth (MiDaS)",
    ),
    "openpose": _hub_folder(  # no fp16 file on main (see KNOWN_MISSING)
        "t2i-openpose-sdxl",
        "TencentARC/t2i-adapter-openpose-sdxl-1.0",
        "diffusion_pytorch_model.safetensors",
        "T2I-Adapter SDXL openpose",
    ),
}
SDXL_SPECS: tuple[ModelSpec, ...] = (
    SDXL_BASE,
    SDXL_INPAINTING_UNET,
    SDXL_VAE_FP16_FIX,
    SDXL_IMAGE_ENCODER,
    *SDXL_IP_ADAPTERS.values(),
    *SDXL_CONTROLNETS.values(),
    *SDXL_T2I_ADAPTERS.values(),
)
