"""The modes of issue 14 against diffusers on the same configuration, in one process.

    python -m benchmarks.references [--models DIR] [--size 128] [--steps 20] [--repeats 5]

Per-layer float weights, two references side by side (concat), regions (a mask per reference), a
negative image, and two adapter units, each timed against diffusers' ``StableDiffusionPipeline`` given
the same request. diffusers gets precomputed ``ip_adapter_image_embeds`` (the CLIP encodings made
once, before timing), as our engine takes them from its cache: both loops are timed without the
image encoder. Also prints the largest difference between the two outputs (parity, float pixels).
Writes the "references" section of BENCHMARKS.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from diffusers.image_processor import IPAdapterMaskProcessor
from PIL import Image

from ipa_demo.engine import Engine
from ipa_demo.ip_adapter.inputs import MoreReferences
from ipa_demo.architecture.layers import diffusers_scale_dict
from ipa_demo.settings import GenerationSettings, IPAdapterSettings
from tests.helpers import noise_image
from tests.reference_pipelines import ReferencePipeline

from .report import interleaved_medians, machine_line, models_and_engine, parse_arguments, publish

LAYER_WEIGHTS = (0.0, 0.3, 1.2, 2.5, 0.7, 0.0, 1.0, 3.0, 0.2, 0.9, 1.5, 0.4, 0.0, 2.0, 1.1, 0.6)


@dataclass(frozen=True)
class Mode:
    name: str
    ours: Callable[[], np.ndarray]
    theirs: Callable[[], np.ndarray]


def embeds(
    pipe: ReferencePipeline, images: list[Image.Image], hidden_states: bool, negative: Image.Image | None = None
) -> torch.Tensor:
    """``ip_adapter_image_embeds`` for one adapter: [unconditional ; conditional], (2, images, ...)."""
    with torch.no_grad():
        positive, unconditional = pipe.pipe.encode_image(images, "cpu", 1, hidden_states)
        if negative is not None:
            unconditional = pipe.pipe.encode_image([negative] * len(images), "cpu", 1, hidden_states)[0]
    return torch.cat([unconditional[None], positive[None]])


def halves(size: int) -> tuple[Image.Image, Image.Image]:
    left, right = Image.new("L", (size, size), 0), Image.new("L", (size, size), 0)
    left.paste(255, (0, 0, size * 5 // 8, size))
    right.paste(255, (size * 3 // 8, 0, size, size))
    return left, right


def modes(engine: Engine, models: Path, settings: GenerationSettings) -> list[Mode]:
    base = ReferencePipeline.load(models, "base")
    two = ReferencePipeline.load(models, ["base", "plus"])
    first, second = noise_image(96, 72, seed=1), Image.new("RGB", (72, 96), (230, 40, 20))
    negative = noise_image(80, 80, seed=3)
    masks = halves(settings.width)
    ip = IPAdapterSettings(scale=0.8)
    plain = replace(settings, ip=ip)
    weighted = replace(settings, ip=replace(ip, layer_weights=LAYER_WEIGHTS))
    concat = replace(settings, ip=replace(ip, combine="concat"))
    regions = replace(settings, ip=replace(ip, reference_weights=(1.0, 0.6)))
    units = replace(plain, ip2=IPAdapterSettings(scale=0.5, variant="plus"))
    one, pair = embeds(base, [first], False), embeds(base, [first, second], False)
    with_negative = embeds(base, [first], False, negative)
    unit_embeds = [one, embeds(two, [second], True)]
    mask_tensor = IPAdapterMaskProcessor().preprocess(list(masks), height=settings.height, width=settings.width)
    mask_kwargs = {"ip_adapter_masks": [mask_tensor.reshape(1, 2, settings.height, settings.width)]}
    return [
        Mode("IP-Adapter, one reference (baseline)",
             lambda: engine.generate(plain, [first]).pixels,
             lambda: base.run(plain, ip_scale=0.8, ip_adapter_image_embeds=[one])),
        Mode("per-layer float weights",
             lambda: engine.generate(weighted, [first]).pixels,
             lambda: base.run(weighted, ip_scale=diffusers_scale_dict(weighted.ip.layer_scales),
                              ip_adapter_image_embeds=[one])),
        Mode("two references, concat",
             lambda: engine.generate(concat, [first, second]).pixels,
             lambda: base.run(concat, ip_scale=0.8, ip_adapter_image_embeds=[pair])),
        Mode("regions: two masked references",
             lambda: engine.generate(regions, [first, second], more=MoreReferences(reference_masks=masks)).pixels,
             lambda: base.run(regions, ip_scale=[[0.8, 0.8 * 0.6]], ip_adapter_image_embeds=[pair],
                              cross_attention_kwargs=mask_kwargs)),
        Mode("negative image",
             lambda: engine.generate(plain, [first], more=MoreReferences(negative_reference=negative)).pixels,
             lambda: base.run(plain, ip_scale=0.8, ip_adapter_image_embeds=[with_negative])),
        Mode("two adapter units (base + plus)",
             lambda: engine.generate(units, [first], more=MoreReferences(ip2_references=(second,))).pixels,
             lambda: two.run(units, ip_scale=[0.8, 0.5], ip_adapter_image_embeds=unit_embeds)),
    ]  # fmt: skip


def main() -> None:
    args = parse_arguments(__doc__, size=128, steps=20, repeats=5)
    models, engine = models_and_engine(args)
    size = {"width": args.size, "height": args.size}
    settings = GenerationSettings(prompt="a photo of a cat", seed=0, steps=args.steps, **size)
    chosen = modes(engine, models, settings)
    runs = {(mode.name, side): getattr(mode, side) for mode in chosen for side in ("ours", "theirs")}
    times = interleaved_medians(runs, args.repeats)  # type: ignore[arg-type]
    rows = []
    for mode in chosen:
        ours, theirs = times[(mode.name, "ours")], times[(mode.name, "theirs")]
        difference = float(np.abs(mode.ours() - mode.theirs()).max())
        rows.append(f"| {mode.name} | {ours:.3f} | {theirs:.3f} | {ours / theirs:.3f} | {difference:.1e} |")
    lines = [
        f"Machine: {machine_line()}. Models: {args.models or 'tiny random model set'}. {args.size}x{args.size}, "
        f"{args.steps} steps, DPM++ 2M Karras, CFG 7.5, batch 1, median of {args.repeats} interleaved runs. "
        "diffusers is given the CLIP encodings (ip_adapter_image_embeds), as our cache gives them to us.",
        "",
        "| mode | ours (s) | diffusers (s) | ours / diffusers | max abs difference |",
        "|---|---:|---:|---:|---:|",
        *rows,
    ]
    publish(args, "references", "References, fully: each mode against diffusers (`benchmarks/references.py`)", lines)


if __name__ == "__main__":
    main()
