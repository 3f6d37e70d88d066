"""LoRAs of the user's, loaded once through diffusers (peft) and applied per request.

A request asks for LoRAs the A1111 way, by tags in its prompt: ``<lora:name:scale>`` (or
``<lora:name>`` for scale 1), where name is a loaded file's stem. The tags are taken out of the text
the encoder reads and stay in the prompt the PNG keeps. Each file is loaded once as a peft adapter
of the UNet (and of the text encoder where it has weights for it); a request enables the adapters
it names at its scales and disables them all when it ends.

peft keeps the active adapters and their scales on the shared modules themselves, so two requests
cannot run different LoRAs at once: the engine runs a request with LoRAs alone (no other request
overlaps it, see ``shared_use``), and requests without one share the models with the adapters off.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from diffusers import StableDiffusionPipeline
from diffusers.loaders.lora_base import (
    disable_lora_for_text_encoder,
    enable_lora_for_text_encoder,
    set_adapters_for_text_encoder,
)
from safetensors import safe_open

from ..errors import ModelLoadError, SettingsError
from .loading import StableDiffusionModels
from .single_file import short_hash

if TYPE_CHECKING:
    from ..settings import GenerationSettings

TAG = re.compile(r"<lora:([^:<>]+)(?::([^:<>]*))?>")


@dataclass(frozen=True)
class LoraUse:
    name: str
    scale: float


def read_tags(prompt: str) -> tuple[str, tuple[LoraUse, ...]]:
    """The prompt without its LoRA tags, and the tags (scale 0 dropped: it changes nothing)."""
    uses: dict[str, float] = {}
    for match in TAG.finditer(prompt):
        name, scale_text = match.group(1).strip(), match.group(2)
        try:
            scale = 1.0 if scale_text in (None, "") else float(scale_text)
        except ValueError:
            raise SettingsError("prompt", f"the scale of LoRA {name!r} ({scale_text!r}) is not a number") from None
        if not -10.0 <= scale <= 10.0:  # also rejects inf and nan
            raise SettingsError("prompt", f"the scale of LoRA {name!r} must be between -10 and 10, got {scale_text}")
        uses[name] = uses.get(name, 0.0) + scale
    text = " ".join(TAG.sub(" ", prompt).split()) if uses else prompt
    return text, tuple(LoraUse(name, scale) for name, scale in uses.items() if scale != 0.0)


class LoraLibrary:
    """The LoRA files given at start-up, by name (file stem), loaded into the current base models."""

    def __init__(self, files: Sequence[str | Path] = ()) -> None:
        self.paths: dict[str, Path] = {}
        for file in files:
            path = Path(file).expanduser()
            if path.stem in self.paths:
                raise ModelLoadError(f"two LoRA files are named {path.stem}: {self.paths[path.stem]} and {path}")
            _check_lora_file(path)
            self.paths[path.stem] = path
        self._loaded_into: int | None = None  # id of the UNet holding the adapters
        self._text_encoder_has: set[str] = set()
        self._hashes: dict[str, str] = {}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.paths)

    def hash(self, name: str) -> str:
        if name not in self._hashes:
            self._hashes[name] = short_hash(self.paths[name])
        return self._hashes[name]

    def load_into(self, models: StableDiffusionModels) -> None:
        """Add every file as an adapter of these models (once per models), all switched off."""
        if not self.paths or self._loaded_into == id(models.unet):
            return
        self._text_encoder_has = set()
        for name, path in self.paths.items():
            try:
                state, alphas = StableDiffusionPipeline.lora_state_dict(str(path))
                StableDiffusionPipeline.load_lora_into_unet(state, alphas, models.unet, adapter_name=name)
                StableDiffusionPipeline.load_lora_into_text_encoder(
                    state, alphas, models.text_encoder, adapter_name=name
                )
            except Exception as error:
                raise ModelLoadError(f"cannot load the LoRA {path}: {error}") from None
            if name in (getattr(models.text_encoder, "peft_config", None) or {}):
                self._text_encoder_has.add(name)
        self._disable(models)
        self._loaded_into = id(models.unet)

    def check(self, uses: Sequence[LoraUse]) -> None:
        unknown = [use.name for use in uses if use.name not in self.paths]
        if unknown:
            loaded = ", ".join(self.paths) or "none (start with --lora FILE)"
            raise SettingsError("prompt", f"no LoRA named {', '.join(unknown)} is loaded; loaded: {loaded}")

    def text_settings(self, settings: GenerationSettings) -> GenerationSettings:
        """The settings with the prompt the text encoder reads: without LoRA tags."""
        text, _ = read_tags(settings.prompt)
        return settings if text == settings.prompt else replace(settings, prompt=text)

    @contextmanager
    def applied(self, models: StableDiffusionModels, uses: Sequence[LoraUse]) -> Iterator[None]:
        """The named adapters on at their scales for the duration; the caller holds the models alone."""
        if not uses:
            yield
            return
        names, scales = [use.name for use in uses], [use.scale for use in uses]
        try:
            models.unet.enable_lora()
            models.unet.set_adapters(names, scales)
            in_text = [
                (name, scale) for name, scale in zip(names, scales, strict=True) if name in self._text_encoder_has
            ]
            if in_text:
                text_names, text_scales = zip(*in_text, strict=True)
                enable_lora_for_text_encoder(models.text_encoder)
                set_adapters_for_text_encoder(list(text_names), models.text_encoder, list(text_scales))
            yield
        finally:
            self._disable(models)

    def _disable(self, models: StableDiffusionModels) -> None:
        models.unet.disable_lora()
        if self._text_encoder_has:
            disable_lora_for_text_encoder(models.text_encoder)


def _check_lora_file(path: Path) -> None:
    if path.suffix.lower() != ".safetensors" or not path.is_file():
        raise ModelLoadError(f"LoRA {path}: give an existing .safetensors file")
    try:
        with safe_open(str(path), framework="pt") as file:
            keys = list(file.keys())
    except Exception as error:
        raise ModelLoadError(f"cannot read the LoRA {path}: {error}") from None
    if not any("lora" in key for key in keys):
        raise ModelLoadError(f"{path} is not a LoRA (no lora_* weights among its {len(keys)} tensors)")
