"""The user's base model and VAE: a Hub repo id, a local diffusers folder, or one ``.safetensors`` file.

``--base-model`` / ``IPA_BASE_MODEL`` and ``--vae`` / ``IPA_VAE`` name them; unset, the catalog's
SD1.5 and its own VAE load as before. A Hub id resolves under the models folder by its repo name
(as the catalog's repos do), else through the Hub cache, downloading the diffusers folders only
when the Hub is reachable. Single files are configured from the catalog's folder of their family
(SD1.5's, or SDXL base's), told from the file's keys, so they load offline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch
from diffusers import AutoencoderKL

from ..architecture import describe_unet, read_config
from ..errors import MissingModelError, ModelLoadError, VAELoadError
from .catalog import SD15
from .download import HubError, hub_is_offline
from .loading import StableDiffusionModels, load_stable_diffusion, weights_variant
from .catalog_sdxl import SDXL_BASE, SDXL_VAE_FP16_FIX
from .fp16_vae import automatic_vae_path
from .single_file import file_hash, file_sha256, inspect_checkpoint, load_single_file, load_vae_single_file
from .sources import ModelSources

DEFAULT_MODEL_NAME = SD15.repo_name
SUPPORTED_FAMILIES = ("sd15", "sdxl")  # architecture families the loop runs
_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
# The parts of a diffusers repo that ``load_stable_diffusion`` reads; weights as safetensors only.
_PIPELINE_FILES = (
    "model_index.json", "scheduler/*.json", "tokenizer/*", "text_encoder/config.json",
    "text_encoder/*.safetensors", "tokenizer_2/*", "text_encoder_2/config.json", "text_encoder_2/*.safetensors",
    "unet/config.json", "unet/*.safetensors", "vae/config.json", "vae/*.safetensors",
)  # fmt: skip
_VAE_FILES = ("config.json", "*.safetensors", "vae/config.json", "vae/*.safetensors")


@dataclass(frozen=True)
class ModelChoice:
    """A base model or VAE as the user named it, found on disk."""

    requested: str  # as given: "" for the default
    path: Path  # a diffusers folder or a .safetensors file
    name: str  # what the PNG's "Model" / "VAE" says: the repo or folder name, or the file's stem

    @property
    def is_file(self) -> bool:
        return self.path.is_file()

    @cached_property
    def hash(self) -> str | None:
        """A1111's short hash for single files (read once per file: seconds for a 2 GB file); folders have none."""
        return file_hash(self.path) if self.is_file else None

    @property
    def sha256(self) -> str | None:
        """The whole SHA-256 of a single file (cached with ``hash``); folders have none."""
        return file_sha256(self.path) if self.is_file else None


def resolve_model(requested: str | None, sources: ModelSources, what: str, patterns: tuple[str, ...]) -> ModelChoice:
    """A path that exists is used as is; otherwise ``requested`` must be a Hub id (``owner/name``)."""
    text = (requested or "").strip()
    path = Path(text).expanduser()
    if text and path.exists():
        if path.is_file() and path.suffix.lower() != ".safetensors":
            raise ModelLoadError(f"{what} {path}: only .safetensors files or diffusers folders are loaded")
        return ModelChoice(text, path, path.stem if path.is_file() else path.name)
    if not _REPO_ID.match(text):
        raise MissingModelError(f"{what} {text!r} is neither an existing file or folder nor a Hub id (owner/name)")
    repo_name = text.split("/")[-1]
    if sources.models_dir is not None:
        local = sources.models_dir / repo_name
        if not local.is_dir():
            raise MissingModelError(f"{what} {text}: expected the folder {local} (the models folder's layout)")
        return ModelChoice(text, local, repo_name)
    return ModelChoice(text, _from_hub(text, sources.hub_cache, what, patterns), repo_name)


def _from_hub(repo_id: str, cache: Path | None, what: str, patterns: tuple[str, ...]) -> Path:
    from huggingface_hub import snapshot_download

    offline = hub_is_offline()
    try:
        folder = snapshot_download(repo_id, allow_patterns=list(patterns), cache_dir=cache, local_files_only=offline)
    except Exception as error:  # not cached, not on the Hub, unreachable: many types
        state = "is not in the Hub cache and HF_HUB_OFFLINE is set" if offline else f"could not be fetched ({error})"
        raise HubError(f"{what} {repo_id} {state}; give a local folder or .safetensors file instead") from None
    return Path(folder)


def fetch_hub_model(repo_id: str, models_dir: Path | None, *, vae: bool = False) -> Path:
    """``download --base-model/--vae``: a user's Hub repo, only the files we load, into ``models_dir/<repo
    name>`` (the layout ``--models`` reads) or the Hub cache."""
    from huggingface_hub import snapshot_download

    if not _REPO_ID.match(repo_id):
        raise MissingModelError(f"{repo_id!r} is not a Hub id (owner/name); local files need no download")
    target = models_dir / repo_id.split("/")[-1] if models_dir is not None else None
    patterns = list(_VAE_FILES if vae else _PIPELINE_FILES)
    if hub_is_offline():
        raise HubError(f"{repo_id}: HF_HUB_OFFLINE is set, so nothing can be downloaded")
    try:
        return Path(snapshot_download(repo_id, allow_patterns=patterns, local_dir=target))
    except Exception as error:  # not on the Hub, gated, unreachable: many types
        raise HubError(f"{repo_id} could not be fetched: {error}") from None


def resolve_base_model(requested: str | None, sources: ModelSources) -> ModelChoice:
    if not requested:
        return ModelChoice("", sources.resolve(SD15), DEFAULT_MODEL_NAME)
    return resolve_model(requested, sources, "base model", _PIPELINE_FILES)


def resolve_vae(requested: str | None, sources: ModelSources) -> ModelChoice | None:
    return resolve_model(requested, sources, "VAE", _VAE_FILES) if requested else None


def load_base_model(
    base: ModelChoice,
    vae: ModelChoice | None,
    sources: ModelSources,
    device: torch.device | str,
    dtype: torch.dtype,
) -> StableDiffusionModels:
    """The models of ``base``, with ``vae`` in place of its own when given (SDXL in float16: the fp16 fix)."""
    if base.is_file:
        info = inspect_checkpoint(base.path)
        config_folder = sources.resolve(SDXL_BASE if info.family == "sdxl" else SD15)
        parts = load_single_file(base.path, info, config_folder, dtype)
        models = load_stable_diffusion(config_folder, device, dtype, parts=parts)
    elif is_unet_only(base.path):
        family = check_supported(base)
        config_folder = sources.resolve(SDXL_BASE if family == "sdxl" else SD15)
        models = load_stable_diffusion(config_folder, device, dtype, unet_folder=base.path / "unet")
    else:
        config_folder = base.path
        check_supported(base)
        models = load_stable_diffusion(base.path, device, dtype)
    if vae is None:
        vae = automatic_vae(models.architecture.family, dtype, sources)
    if vae is None:
        return models
    return models.with_vae(load_vae(vae, config_folder, dtype).to(device).eval().requires_grad_(False), vae.name)


def automatic_vae(family: str, dtype: torch.dtype, sources: ModelSources) -> ModelChoice | None:
    """The VAE a model of ``family`` runs with in ``dtype`` when the user names none (``fp16_vae``)."""
    path = automatic_vae_path(family, dtype, sources)
    return None if path is None else ModelChoice(SDXL_VAE_FP16_FIX.repo_id, path, SDXL_VAE_FP16_FIX.repo_name)


def check_supported(base: ModelChoice) -> str | None:
    """Refuse, before any weight loads, a folder whose UNet is of a family this app cannot run;
    the family it can (None: no UNet config, which loading then names)."""
    config = base.path / "unet" / "config.json"
    if not config.is_file():
        return None
    architecture = describe_unet(read_config(config))
    if architecture.family not in SUPPORTED_FAMILIES:
        raise ModelLoadError(
            f"base model {base.requested or base.name}: an {architecture.title} model, which this app cannot "
            f"run; give an SD 1.5 or SDXL model"
        )
    return architecture.family


def is_unet_only(folder: Path) -> bool:
    """A repo fetched for its UNet alone (the catalog's SDXL inpainting model: its other parts are SDXL
    base's), so the rest comes from the catalog's base model of the UNet's family."""
    return (folder / "unet" / "config.json").is_file() and not (folder / "model_index.json").is_file()


def load_vae(vae: ModelChoice, config_folder: Path, dtype: torch.dtype) -> AutoencoderKL:
    if vae.is_file:
        return load_vae_single_file(vae.path, config_folder, dtype)
    folder = vae.path / "vae" if (vae.path / "vae" / "config.json").exists() else vae.path
    try:
        return AutoencoderKL.from_pretrained(
            folder,
            torch_dtype=dtype,
            use_safetensors=True,
            variant=weights_variant(folder, "diffusion_pytorch_model.safetensors"),
        )
    except Exception as error:
        raise VAELoadError(f"cannot load the VAE from {folder}: {error}") from None
