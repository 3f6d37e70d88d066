"""Explore: an 8-cell λ sweep against the same 8 cells as separate generate calls; injection maps on vs off.

    python -m benchmarks.explore [--models DIR] [--size 128] [--steps 20] [--repeats 3]

Writes the "explore" section of BENCHMARKS.md. The sweep batches its 8 cells into one UNet call per
step (``explore.batched``) and adds CLIP-I scoring and the grid; the separate calls make the same 8
images one at a time.
"""

from __future__ import annotations

from functools import partial

from ipa_demo.explore.axes import parse_axis
from ipa_demo.explore.sweep import plan, run
from ipa_demo.settings import GenerationSettings, IPAdapterSettings
from ipa_demo.settings.values import values_from_settings
from tests.helpers import noise_image

from .report import interleaved_medians, machine_line, models_and_engine, parse_arguments, publish

LAMBDAS = "0,0.25,0.5,0.75,1,1.25,1.5,2"


def main() -> None:
    args = parse_arguments(__doc__, size=128, repeats=3, steps=20)
    _, engine = models_and_engine(args)
    reference = noise_image(96, 72, seed=1)
    base = GenerationSettings(prompt="a cat", seed=3, width=args.size, height=args.size, steps=args.steps,
                              ip=IPAdapterSettings(scale=0.7))  # fmt: skip
    axis = parse_axis(f"ip-scale={LAMBDAS}", "--x")
    cells = plan(values_from_settings(base), base.seed, axis)

    def separately() -> None:
        for cell in cells:
            engine.generate(cell.settings, [reference])

    runs = {
        "sweep": partial(run, engine, cells, axis, references=[reference], batch_size=len(cells)),
        "separate generate calls": separately,
        "maps off": partial(engine.generate, base, [reference]),
        "maps on": partial(engine.generate, base, [reference], injection_maps=True),
    }
    times = interleaved_medians(runs, args.repeats)
    lines = [
        f"Machine: {machine_line()}. Models: {args.models or 'tiny random model set'}. {args.size}x{args.size}, "
        f"{args.steps} steps, DPM++ 2M Karras, CFG 7.5; median of {args.repeats} interleaved runs.",
        "",
        "| measure | seconds | ratio |",
        "|---|---:|---:|",
        f"| 8-cell λ sweep ({LAMBDAS}), cells batched 8 to a UNet call, ÷ the same cells as 8 generate calls | {times['sweep']:.2f} | "
        f"{times['sweep'] / times['separate generate calls']:.2f} |",
        f"| one generation, injection maps on ÷ off | {times['maps on']:.2f} | {times['maps on'] / times['maps off']:.2f} |",
    ]
    publish(args, "explore", "Explore: sweeps and injection maps (`benchmarks/explore.py`)", lines)


if __name__ == "__main__":
    main()
