"""The flags that name the user's own models (``--base-model``, ``--vae``, ``--lora``), kept light.

The command line and the web app build their parsers from these without importing torch; the
modules that load the models (``base_model``, ``lora``) read the same environment variables.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import SettingsError
from .catalog import SD15

BASE_MODEL_ENV = "IPA_BASE_MODEL"
VAE_ENV = "IPA_VAE"
LORAS_ENV = "IPA_LORAS"  # several files separated by the OS path separator (":" on Linux)


def tag(name: str, scale: float) -> str:
    return f"<lora:{name}:{scale:g}>"


def add_base_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The web app's ``--base-model`` (repeatable) and ``--vae``.

    The first base model loads at start and serves requests that name none; a request (the page's
    picker, a PNG loaded back, the API's ``base_model``) may name any of them, for itself only.
    ``IPA_BASE_MODEL`` holds several, separated by the OS path separator. The command line's
    ``--base-model`` is the ``base_model`` setting's flag (``settings.declarations``).
    """
    from_env = os.environ.get(BASE_MODEL_ENV) or ""
    parser.add_argument(
        "--base-model", action="append", default=[part for part in from_env.split(os.pathsep) if part],
        help="SD1.5 base model: a Hub id, a diffusers folder or one .safetensors checkpoint (repeatable: the "
        f"first serves requests that name none, a request may name any; default: ${BASE_MODEL_ENV}, else "
        f"{SD15.repo_id})",
    )  # fmt: skip
    add_vae_argument(parser)


def default_base_model(given: str) -> str | None:
    """The command line's base model: ``--base-model``, else ``IPA_BASE_MODEL``, else None (the catalog's)."""
    return given or os.environ.get(BASE_MODEL_ENV) or None


def add_vae_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vae",
        default=os.environ.get(VAE_ENV) or None,
        help=f"VAE to use instead of the base model's: a Hub id, a folder or a .safetensors file (default: ${VAE_ENV})",
    )


def add_lora_arguments(parser: argparse.ArgumentParser, *, with_scales: bool) -> None:
    """``--lora FILE`` (repeatable); the command line also takes ``--lora-scale S``, one per file."""
    from_env = [part for part in os.environ.get(LORAS_ENV, "").split(os.pathsep) if part]
    parser.add_argument(
        "--lora", action="append", default=from_env, metavar="FILE",
        help=f"a LoRA .safetensors (repeatable); a prompt uses it as <lora:FILE STEM:SCALE> (default: ${LORAS_ENV})",
    )  # fmt: skip
    if with_scales:
        parser.add_argument(
            "--lora-scale", action="append", type=float, default=[], metavar="S",
            help="the scale of each --lora, in the same order (default: 1 each); adds <lora:name:S> to the prompt",
        )  # fmt: skip


def prompt_with_loras(prompt: str, files: Sequence[str], scales: Sequence[float]) -> str:
    """The command line's --lora/--lora-scale pairs as A1111 tags at the end of the prompt."""
    if scales and len(scales) != len(files):
        raise SettingsError(
            "--lora-scale", f"give one --lora-scale per --lora ({len(files)}), or none; got {len(scales)}"
        )
    pairs = zip(files, scales or [1.0] * len(files), strict=True)
    return " ".join([prompt, *(tag(Path(file).stem, scale) for file, scale in pairs)]) if files else prompt
