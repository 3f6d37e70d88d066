"""What every item of an evaluation shares, read once from the command line: the generation
settings (any generation flag, parsed as ``generate`` parses them), the methods, the images per
item. Light: no torch, so the command checks its flags before any model loads."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, replace

from ..ip_adapter.user_checkpoint import read_user_checkpoint
from ..models.user_flags import prompt_with_loras
from ..settings import GenerationSettings, IPAdapterSettings, SettingsError
from ..settings.arguments import settings_from_args

# The Compare tab's methods (compare.comparison_methods, in its order), by the names --methods takes.
METHODS = ("reference-only", "img2img", "ip-adapter", "ip-adapter+structure")
DEFAULT_METHODS = ("ip-adapter", "reference-only", "img2img")
# Flags that name an image: in an evaluation each item's own image is the reference (and img2img's start).
PER_ITEM_IMAGES = {"reference": "--reference", "reference_mask": "--reference-mask", "init_image": "--init-image",
                   "mask_image": "--mask-image", "control_image": "--control-image", "control_map": "--control-map"}  # fmt: skip


@dataclass(frozen=True)
class Plan:
    settings: GenerationSettings  # the flags' settings; each item sets its prompt and seed
    methods: tuple[str, ...]
    images_per_item: int
    samples: int  # the first items whose images are kept for the report
    loras: tuple[str, ...] = ()
    lora_scales: tuple[float, ...] = ()

    def item_settings(self, index: int, caption: str) -> GenerationSettings:
        """The item's caption as the prompt; seeds from its index, so any rerun reproduces it."""
        prompt = prompt_with_loras(caption, self.loras, self.lora_scales)
        seed = self.settings.seed + index * self.images_per_item
        return replace(self.settings, prompt=prompt, seed=seed, num_images=self.images_per_item)


def run_identity(plan: Plan, args: argparse.Namespace) -> dict[str, object]:
    """What decides a run's rows: a resumed run must match it (``--limit`` and ``--samples`` may change)."""
    return {"settings": asdict(plan.settings), "methods": list(plan.methods), "images_per_item": plan.images_per_item,
            "loras": [*plan.loras], "lora_scales": [*plan.lora_scales], "data": str(args.data.resolve()),
            "models": args.models, "base_model": args.base_model, "vae": args.vae, "ip_checkpoint": args.ip_checkpoint,
            "clip_model": str(args.clip_model.resolve()) if args.clip_model else None}  # fmt: skip


def parse_methods(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in METHODS]
    if unknown or not names:
        raise SettingsError("--methods", f"{', '.join(unknown) or 'nothing'} given; choose from {', '.join(METHODS)}")
    return names


def plan_from_args(args: argparse.Namespace) -> Plan:
    for name, flag in PER_ITEM_IMAGES.items():
        if getattr(args, name, None):
            raise SettingsError(flag, "evaluate takes each item's own image as the reference; drop this flag")
    if args.prompt:
        raise SettingsError("--prompt", "evaluate takes each item's caption as the prompt; drop this flag")
    if args.images_per_item < 1:
        raise SettingsError("--images-per-item", f"must be at least 1, got {args.images_per_item}")
    if args.samples < 0:
        raise SettingsError("--samples", f"must be 0 or more, got {args.samples}")
    if args.ip_variant is None:
        user_file = read_user_checkpoint(args.ip_checkpoint) if args.ip_checkpoint else None
        args.ip_variant = user_file.variant if user_file else IPAdapterSettings().variant
    settings = settings_from_args(args)
    prompt_with_loras("", args.lora, args.lora_scale)  # checks the pairs now, not at the first item
    return Plan(settings, parse_methods(args.methods), args.images_per_item, args.samples,
                tuple(args.lora), tuple(args.lora_scale))  # fmt: skip
