"""Per-step cost of ControlNet and T2I-Adapter against plain steps, and the control-map cache.

    python -m benchmarks.structure [--models DIR] [--size 256] [--repeats 7]

Per-step cost is measured as (time at 2k steps - time at k steps) / k, which cancels the
per-image work (text encoding, map, T2I features, VAE decode). Writes the "structure" section
of BENCHMARKS.md.
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import partial

from ipa_demo.settings import ControlNetSettings, GenerationSettings, IPAdapterSettings, T2IAdapterSettings
from ipa_demo.structure.control_maps import MapRequest
from tests.helpers import noise_image

from .report import interleaved_medians, machine_line, models_and_engine, parse_arguments, publish

STEPS = 8


def main() -> None:
    args = parse_arguments(__doc__, size=256, repeats=7)
    _, engine = models_and_engine(args)
    control = noise_image(args.size, args.size, seed=3)
    plain = GenerationSettings(
        prompt="a house", width=args.size, height=args.size, steps=STEPS, ip=IPAdapterSettings(scale=0.0)
    )
    modes = {
        "plain": plain,
        "ControlNet canny": replace(plain, controlnet=ControlNetSettings(kind="canny")),
        "T2I-Adapter canny": replace(plain, t2i=T2IAdapterSettings(kind="canny")),
        "ControlNet + T2I": replace(plain, controlnet=ControlNetSettings(kind="canny"), t2i=T2IAdapterSettings(kind="depth")),
    }
    runs = {}
    for name, settings in modes.items():
        for steps in (STEPS, 2 * STEPS):
            runs[(name, steps)] = partial(engine.generate, replace(settings, steps=steps), control_image=control)
    times = interleaved_medians(runs, args.repeats)
    per_step = {name: (times[(name, 2 * STEPS)] - times[(name, STEPS)]) / STEPS for name in modes}

    photo = noise_image(args.size * 2, args.size, seed=9)
    request = MapRequest("depth", args.size, args.size)
    started = time.perf_counter()
    engine.control_maps.make(photo, request)
    first = time.perf_counter() - started
    started = time.perf_counter()
    engine.control_maps.make(photo, request)
    second = time.perf_counter() - started

    lines = [
        f"Machine: {machine_line()}. Models: {args.models or 'tiny random model set'}. {args.size}x{args.size}, "
        f"DPM++ 2M Karras, CFG 7.5; per-step cost from {STEPS} vs {2 * STEPS} steps, "
        f"median of {args.repeats} interleaved runs.",
        "",
        "| mode | ms per step | × plain step |",
        "|---|---:|---:|",
        *(f"| {name} | {cost * 1000:.1f} | {cost / per_step['plain']:.2f} |" for name, cost in per_step.items()),
        "",
        f"Depth map of a {photo.width}x{photo.height} photo: first request {first * 1000:.1f} ms (map made), "
        f"second request {second * 1000:.3f} ms (cache hit).",
    ]
    publish(args, "structure", "Structure conditioners (`benchmarks/structure.py`)", lines)


if __name__ == "__main__":
    main()
