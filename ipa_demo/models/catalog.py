"""The catalog: every model the app can load, as a Hub repo and the exact files it needs.

Every spec lists exact file names (no patterns) and, where the main branch will not do, a pinned
revision: ``download``, the Space's ``preload_from_hub`` and the cache lookup all work from the same
list. ``KNOWN_MISSING`` records files that people expect in a repo but that are not there, so that a
test can keep every spec off them. The kinds each family offers (ControlNet, T2I-Adapter, IP-Adapter
variants) are the keys of its dict here: the settings take their choices from them.

``docs/catalog-check.md`` gives, file by file, the stored Hub listing each name was checked against
(stored copies of the Hub's pages, not the live Hub). Not checked there, for want of a stored page: the
SD 1.5 repo's ``model_index.json``, ``scheduler/`` and ``text_encoder/``, and ``Intel/dpt-hybrid-midas``.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    FOLDER = "folder"  # a diffusers/transformers folder with a config
    FILE = "file"  # a single weights file


@dataclass(frozen=True)
class ModelSpec:
    """One downloadable component: a folder or a file inside a Hub repo."""

    key: str
    repo_id: str
    path_in_repo: str  # "" for the repo root
    kind: Kind
    files: tuple[str, ...]  # exactly what `download` fetches, relative to the repo root
    description: str
    revision: str | None = None  # a commit hash to pin; None: the main branch

    @property
    def repo_name(self) -> str:
        return self.repo_id.split("/")[-1]


CLIP_TOKENIZER_FILES = ("merges.txt", "special_tokens_map.json", "tokenizer_config.json", "vocab.json")


def _diffusers_folder(subfolder: str, weights: str) -> tuple[str, ...]:
    return (f"{subfolder}/config.json", f"{subfolder}/{weights}")


SD15 = ModelSpec(
    key="sd15",
    repo_id="stable-diffusion-v1-5/stable-diffusion-v1-5",
    path_in_repo="",
    kind=Kind.FOLDER,
    files=(
        "model_index.json",
        "scheduler/scheduler_config.json",
        *(f"tokenizer/{name}" for name in CLIP_TOKENIZER_FILES),
        *_diffusers_folder("text_encoder", "model.fp16.safetensors"),
        *_diffusers_folder("unet", "diffusion_pytorch_model.fp16.safetensors"),
        *_diffusers_folder("vae", "diffusion_pytorch_model.fp16.safetensors"),
    ),
    description="Stable Diffusion 1.5 base model",
)

IMAGE_ENCODER = ModelSpec(
    key="image_encoder",
    repo_id="h94/IP-Adapter",
    path_in_repo="models/image_encoder",
    kind=Kind.FOLDER,
    files=("models/image_encoder/config.json", "models/image_encoder/model.safetensors"),
    description="CLIP ViT-H/14 image encoder for IP-Adapter",
)


def _ip_adapter(key: str, filename: str, description: str) -> ModelSpec:
    return ModelSpec(
        key=key,
        repo_id="h94/IP-Adapter",
        path_in_repo=f"models/{filename}",
        kind=Kind.FILE,
        files=(f"models/{filename}",),
        description=description,
    )


IP_ADAPTERS: dict[str, ModelSpec] = {
    "base": _ip_adapter("ip-adapter_sd15", "ip-adapter_sd15.safetensors", "IP-Adapter SD1.5 (4 tokens)"),
    "light": _ip_adapter(
        "ip-adapter_sd15_light", "ip-adapter_sd15_light.safetensors", "IP-Adapter SD1.5 light (4 tokens)"
    ),
    "plus": _ip_adapter(
        "ip-adapter-plus_sd15", "ip-adapter-plus_sd15.safetensors", "IP-Adapter Plus SD1.5 (16 tokens)"
    ),
    "plus-face": _ip_adapter(
        "ip-adapter-plus-face_sd15",
        "ip-adapter-plus-face_sd15.safetensors",
        "IP-Adapter Plus Face SD1.5 (16 tokens, faces)",
    ),
    "full-face": _ip_adapter(
        "ip-adapter-full-face_sd15",
        "ip-adapter-full-face_sd15.safetensors",
        "IP-Adapter full-face SD1.5 (257 tokens)",
    ),
}


def _hub_folder(key: str, repo_id: str, weights: str, description: str) -> ModelSpec:
    return ModelSpec(
        key=key,
        repo_id=repo_id,
        path_in_repo="",
        kind=Kind.FOLDER,
        files=("config.json", weights),
        description=description,
    )


CONTROLNETS: dict[str, ModelSpec] = {
    "canny": _hub_folder(
        "controlnet-canny",
        "lllyasviel/control_v11p_sd15_canny",
        "diffusion_pytorch_model.fp16.safetensors",
        "ControlNet v1.1 canny",
    ),
    "depth": _hub_folder(
        "controlnet-depth",
        "lllyasviel/control_v11f1p_sd15_depth",
        "diffusion_pytorch_model.fp16.safetensors",
        "ControlNet v1.1 depth",
    ),
    "openpose": _hub_folder(
        "controlnet-openpose",
        "lllyasviel/control_v11p_sd15_openpose",
        "diffusion_pytorch_model.fp16.safetensors",
        "ControlNet v1.1 openpose",
    ),
}

T2I_ADAPTERS: dict[str, ModelSpec] = {
    "canny": _hub_folder(
        "t2i-canny", "TencentARC/t2iadapter_canny_sd15v2", "diffusion_pytorch_model.bin", "T2I-Adapter canny"
    ),
    "depth": _hub_folder(
        "t2i-depth", "TencentARC/t2iadapter_depth_sd15v2", "diffusion_pytorch_model.bin", "T2I-Adapter depth"
    ),
    "openpose": _hub_folder(
        "t2i-openpose", "TencentARC/t2iadapter_openpose_sd14v1", "diffusion_pytorch_model.bin", "T2I-Adapter openpose"
    ),
}

# Poses from photos: controlnet_aux's OpenPose body model (a pickle, read with weights_only=True).
POSE_ESTIMATOR = ModelSpec(
    key="openpose",
    repo_id="lllyasviel/Annotators",
    path_in_repo="",
    kind=Kind.FOLDER,
    files=("body_pose_model.pth",),
    description="OpenPose body estimator (controlnet_aux)",
)

# Depth estimators, named as `--depth-model` and `download --only` take them. Depth Anything V2 Small
# (Apache-2.0, 25M parameters) is the default: its weights are safetensors on the main branch.
# DPT-hybrid MiDaS has, by an earlier reading of its listing, only a pickle there (see KNOWN_MISSING;
# not re-checked in docs/catalog-check.md), which transformers reads with torch.load(weights_only=True).
def _depth_folder(key: str, repo_id: str, weights: str, description: str) -> ModelSpec:
    files = ("config.json", "preprocessor_config.json", weights)
    return ModelSpec(key=key, repo_id=repo_id, path_in_repo="", kind=Kind.FOLDER, files=files, description=description)


DEPTH_ESTIMATORS: dict[str, ModelSpec] = {
    "depth-anything-v2-small": _depth_folder(
        "depth-anything-v2-small",
        "depth-anything/Depth-Anything-V2-Small-hf",
        "model.safetensors",
        "Depth Anything V2 Small depth estimator",
    ),
    "dpt-hybrid-midas": _depth_folder(
        "dpt-hybrid-midas", "Intel/dpt-hybrid-midas", "pytorch_model.bin", "DPT-hybrid MiDaS depth estimator"
    ),
}
DEPTH_MODEL_ENV = "IPA_DEPTH_MODEL"
DEFAULT_DEPTH_MODEL = "depth-anything-v2-small"
DEPTH_ESTIMATOR = DEPTH_ESTIMATORS[DEFAULT_DEPTH_MODEL]


def add_depth_model_argument(parser: argparse.ArgumentParser) -> None:
    """``--depth-model``, as the web app and the command line both take it."""
    parser.add_argument(
        "--depth-model",
        type=depth_model_argument,
        default=os.environ.get(DEPTH_MODEL_ENV, DEFAULT_DEPTH_MODEL),
        help=f"what makes depth maps: {', '.join(DEPTH_ESTIMATORS)} "
        f"(default: ${DEPTH_MODEL_ENV}, else {DEFAULT_DEPTH_MODEL})",
    )


def depth_model_argument(name: str) -> str:
    """argparse ``type`` for ``--depth-model``; also checks a default taken from ``IPA_DEPTH_MODEL``."""
    if name not in DEPTH_ESTIMATORS:
        where = f"{DEPTH_MODEL_ENV} or the flag"
        raise argparse.ArgumentTypeError(f"{name!r} is not a depth model ({where}); use {', '.join(DEPTH_ESTIMATORS)}")
    return name


@dataclass(frozen=True)
class MissingFile:
    """A file that a Hub repo does not have at ``revision`` (None: main), though one might expect it.

    The evidence for each is in ``docs/catalog-check.md``.
    """

    repo_id: str
    path: str
    revision: str | None
    why: str


KNOWN_MISSING: tuple[MissingFile, ...] = (
    MissingFile(
        "Intel/dpt-hybrid-midas",
        "model.safetensors",
        None,
        "main has only pytorch_model.bin; a safetensors copy exists only on an unmerged bot pull request",
    ),
    MissingFile(
        "thibaud/controlnet-openpose-sdxl-1.0",
        "diffusion_pytorch_model.safetensors",
        None,
        "main has diffusion_pytorch_model.bin and OpenPoseXL2.safetensors (not diffusers' name), no fp16 file",
    ),
    MissingFile(
        "TencentARC/t2i-adapter-openpose-sdxl-1.0",
        "diffusion_pytorch_model.fp16.safetensors",
        None,
        "unlike the canny and depth-midas SDXL adapters, main has only the float32 safetensors",
    ),
    MissingFile(
        "h94/IP-Adapter",
        "sdxl_models/image_encoder/model.fp16.safetensors",
        None,
        "sdxl_models/ has no fp16-named files: its safetensors are already stored in half precision",
    ),
    MissingFile(
        "h94/IP-Adapter",
        "models/image_encoder/model.fp16.safetensors",
        None,
        "the ViT-H encoder is published in float32 only (model.safetensors, 2.53 GB)",
    ),
    MissingFile(
        "madebyollin/sdxl-vae-fp16-fix",
        "diffusion_pytorch_model.fp16.safetensors",
        None,
        "despite the repo's name its weights are float32 (335 MB) and not fp16-named; the app casts them",
    ),
    *(
        MissingFile(repo_id, "diffusion_pytorch_model.safetensors", None, "main has only the pickle")
        for repo_id in (
            "TencentARC/t2iadapter_canny_sd15v2",
            "TencentARC/t2iadapter_depth_sd15v2",
            "TencentARC/t2iadapter_openpose_sd14v1",
        )
    ),
)


def known_missing_files(spec: ModelSpec) -> list[MissingFile]:
    """The files of ``spec`` that ``KNOWN_MISSING`` says its repo does not have."""
    return [
        missing
        for missing in KNOWN_MISSING
        if (missing.repo_id, missing.revision) == (spec.repo_id, spec.revision) and missing.path in spec.files
    ]


SD15_SPECS: tuple[ModelSpec, ...] = (  # every SD 1.5 component; models/specs.py adds SDXL's
    SD15,
    IMAGE_ENCODER,
    *IP_ADAPTERS.values(),
    *CONTROLNETS.values(),
    *T2I_ADAPTERS.values(),
    *DEPTH_ESTIMATORS.values(),
    POSE_ESTIMATOR,
)
DEFAULT_SPECS: tuple[ModelSpec, ...] = (SD15, IMAGE_ENCODER, IP_ADAPTERS["base"])  # what a first generation loads
