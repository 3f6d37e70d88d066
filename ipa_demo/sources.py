"""Where each model comes from: its Hugging Face Hub repo, or a local folder laid out like one.

With a models folder every component resolves to ``<models_dir>/<repo name>/<path in repo>``,
the layout a ``huggingface_hub`` download of each repo gives. Without one, components come
from the Hub cache, downloading exactly the files listed here when they are not cached yet.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

MODELS_DIR_ENV = "IPA_MODELS_DIR"


class MissingModelError(RuntimeError):
    """A model that is needed could not be found locally nor fetched; the message says how to get it."""


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
    files: tuple[str, ...]  # what `download` fetches, relative to the repo root (glob patterns allowed)
    description: str

    @property
    def repo_name(self) -> str:
        return self.repo_id.split("/")[-1]


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
        "tokenizer/*",
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
}

T2I_ADAPTERS: dict[str, ModelSpec] = {
    "canny": _hub_folder(
        "t2i-canny", "TencentARC/t2iadapter_canny_sd15v2", "diffusion_pytorch_model.bin", "T2I-Adapter canny"
    ),
    "depth": _hub_folder(
        "t2i-depth", "TencentARC/t2iadapter_depth_sd15v2", "diffusion_pytorch_model.bin", "T2I-Adapter depth"
    ),
}

DEPTH_ESTIMATOR = ModelSpec(
    key="depth-estimator",
    repo_id="Intel/dpt-hybrid-midas",
    path_in_repo="",
    kind=Kind.FOLDER,
    files=("config.json", "preprocessor_config.json", "model.safetensors"),
    description="DPT-hybrid MiDaS depth estimator",
)

ALL_SPECS: tuple[ModelSpec, ...] = (
    SD15,
    IMAGE_ENCODER,
    *IP_ADAPTERS.values(),
    *CONTROLNETS.values(),
    *T2I_ADAPTERS.values(),
    DEPTH_ESTIMATOR,
)


@dataclass(frozen=True)
class ModelSources:
    """Resolves a spec to a local path: from ``models_dir`` when set, else from the Hub cache."""

    models_dir: Path | None = None

    @classmethod
    def from_env(cls, models_dir: str | os.PathLike[str] | None = None) -> ModelSources:
        chosen = models_dir or os.environ.get(MODELS_DIR_ENV) or None
        return cls(Path(chosen).expanduser() if chosen else None)

    def local_path(self, spec: ModelSpec) -> Path:
        """Where ``spec`` lives under ``models_dir`` (whether or not it exists)."""
        if self.models_dir is None:
            raise ValueError("no models folder is set")
        return self.models_dir / spec.repo_name / spec.path_in_repo

    def resolve(self, spec: ModelSpec) -> Path:
        if self.models_dir is not None:
            path = self.local_path(spec)
            if not path.exists():
                raise MissingModelError(
                    f"missing {spec.description}: expected {path} "
                    f"(get it with `python -m ipa_demo download {self.models_dir} --only {spec.key}`)"
                )
            return path
        return self._from_hub(spec)

    @staticmethod
    def _from_hub(spec: ModelSpec) -> Path:
        from huggingface_hub import snapshot_download

        try:
            root = Path(snapshot_download(spec.repo_id, allow_patterns=list(spec.files)))
        except Exception as error:  # the hub client raises many types; all mean "not available"
            raise MissingModelError(
                f"{spec.description} ({spec.repo_id}) is not in the local Hub cache and could not be "
                f"downloaded ({type(error).__name__}); run `python -m ipa_demo download` where the Hub is "
                "reachable, or pass --models DIR"
            ) from None
        path = root / spec.path_in_repo
        if not path.exists():
            raise MissingModelError(f"{spec.description}: {spec.path_in_repo} is missing from {root}")
        return path
