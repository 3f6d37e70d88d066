"""The models a PNG says it was made with (A1111's keys), and how they compare with what runs here."""

from __future__ import annotations

from dataclasses import dataclass, field

from .models.base_model import ModelChoice
from .models.lora import LoraLibrary, read_tags
from .settings.parameters import ParsedParameters, parse_parameters


@dataclass(frozen=True)
class ModelsUsed:
    model: str | None = None
    model_hash: str | None = None
    vae: str | None = None
    loras: dict[str, str | None] = field(default_factory=dict)  # name -> short hash (None: not written)


def models_used(text: str | ParsedParameters) -> ModelsUsed:
    """``Model``, ``Model hash``, ``VAE`` and the prompt's LoRA tags with ``Lora hashes`` of a parameters
    text (or of the text parsed once)."""
    prompt, _, pairs = parse_parameters(text) if isinstance(text, str) else text
    hashes = {
        name.strip(): digest.strip()
        for name, _, digest in (item.partition(":") for item in pairs.get("Lora hashes", "").split(","))
        if digest
    }
    loras = {use.name: hashes.get(use.name) for use in read_tags(prompt)[1]}
    return ModelsUsed(pairs.get("Model"), pairs.get("Model hash"), pairs.get("VAE"), loras)


def is_model(used: ModelsUsed, choice: ModelChoice) -> bool:
    """Whether a PNG's model is this one: by A1111's hash where both have one, else by name."""
    if used.model_hash and choice.is_file:
        return choice.hash == used.model_hash
    return used.model == choice.name


def lora_notes(used: ModelsUsed, library: LoraLibrary) -> list[str]:
    notes = []
    for name, digest in used.loras.items():
        if name not in library.paths:
            notes.append(f"LoRA {name} is not loaded here")
        elif digest and library.hash(name) != digest:
            notes.append(f"LoRA {name} here has hash {library.hash(name)}, the image's had {digest}")
    return notes
