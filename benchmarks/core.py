"""Our loop against diffusers' stock pipelines, same weights and settings, in one process.

    python -m benchmarks.core [--models DIR] [--size 128] [--steps 20] [--repeats 7]

Without --models it writes the tiny model set to a temporary folder. Prints a table and writes
the "core" section of BENCHMARKS.md: median seconds per image and the ratio ours / diffusers.
"""

from __future__ import annotations

from dataclasses import replace

from ipa_demo.settings import GenerationSettings, IPAdapterSettings
from tests.helpers import noise_image
from tests.reference_pipelines import ReferencePipeline

from .report import interleaved_medians, machine_line, models_and_engine, parse_arguments, publish


def main() -> None:
    args = parse_arguments(__doc__, size=128, steps=20, repeats=7)
    models, engine = models_and_engine(args)
    plain = ReferencePipeline.load(models)
    with_ip = ReferencePipeline.load(models, "base")
    reference = noise_image(96, 72, seed=1)
    init = noise_image(args.size, args.size, seed=2)
    settings = GenerationSettings(
        prompt="a photo of a cat", seed=0, width=args.size, height=args.size, steps=args.steps,
        ip=IPAdapterSettings(scale=0.0),
    )  # fmt: skip
    ip_settings = replace(settings, ip=IPAdapterSettings(scale=0.7))
    img2img = replace(settings, strength=0.6)

    modes = {
        "txt2img": (lambda: engine.generate(settings), lambda: plain.run(settings)),
        "IP-Adapter": (
            lambda: engine.generate(ip_settings, [reference]),
            lambda: with_ip.run(ip_settings, ip_scale=0.7, reference=reference),
        ),
        "img2img": (lambda: engine.generate(img2img, init_image=init), lambda: plain.run(img2img, init_image=init)),
    }
    rows = []
    for mode, (ours, theirs) in modes.items():
        times = interleaved_medians({"ours": ours, "diffusers": theirs}, args.repeats)
        rows.append((mode, times["ours"], times["diffusers"], times["ours"] / times["diffusers"]))

    source = args.models or "tiny random model set"
    table = [
        f"Machine: {machine_line()}. Models: {source}. {args.size}x{args.size}, {args.steps} steps "
        f"(img2img strength 0.6), DPM++ 2M Karras, CFG 7.5, batch 1, median of {args.repeats} interleaved runs.",
        "",
        "| mode | ours (s) | diffusers (s) | ours / diffusers |",
        "|---|---:|---:|---:|",
        *(f"| {mode} | {ours:.3f} | {theirs:.3f} | {ratio:.3f} |" for mode, ours, theirs, ratio in rows),
    ]
    publish(args, "core", "Core loop vs diffusers' stock pipelines (`benchmarks/core.py`)", table)


if __name__ == "__main__":
    main()
