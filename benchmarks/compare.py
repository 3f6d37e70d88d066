"""The comparison against three separate calls, and reference-only's cost per step.

    python -m benchmarks.compare [--models DIR] [--size 256] [--steps 24] [--repeats 3]

(a) the whole comparison (fast reference pass) ÷ reference-only (exact), img2img and
    IP-Adapter run as three separate calls; (b) fast ÷ exact reference-only per step;
(c) reference-only ÷ plain per step, both modes. Per-step costs come from k vs 2k steps.
Writes the "compare" section of BENCHMARKS.md.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from ipa_demo.compare import compare
from ipa_demo.settings import GenerationSettings, IPAdapterSettings, ReferenceOnlySettings
from tests.helpers import noise_image

from .report import interleaved_medians, machine_line, models_and_engine, parse_arguments, publish


def main() -> None:
    args = parse_arguments(__doc__, size=256, steps=24, repeats=3)
    _, engine = models_and_engine(args)
    reference = noise_image(args.size, args.size, seed=1)
    base = GenerationSettings(
        prompt="a cat", width=args.size, height=args.size, steps=args.steps, strength=0.6,
        ip=IPAdapterSettings(scale=0.0),
    )  # fmt: skip
    exact = replace(base, reference_only=ReferenceOnlySettings(mode="attn"))
    fast = replace(base, reference_only=ReferenceOnlySettings(mode="attn", fast=True))
    with_ip = replace(base, ip=IPAdapterSettings(scale=0.7))

    def separate_calls() -> None:
        engine.generate(exact, [reference])
        engine.generate(base, [reference], init_image=reference)
        engine.generate(with_ip, [reference])

    half = max(args.steps // 2, 1)
    runs = {
        "comparison": lambda: compare(engine, replace(with_ip, reference_only=fast.reference_only), reference),
        "separate": separate_calls,
        **{
            (name, steps): partial(engine.generate, replace(settings, steps=steps), [reference])
            for name, settings in (("plain", base), ("exact", exact), ("fast", fast))
            for steps in (half, args.steps)
        },
    }
    times = interleaved_medians(runs, args.repeats)
    per_step = {name: (times[(name, args.steps)] - times[(name, half)]) / (args.steps - half) for name in ("plain", "exact", "fast")}
    rows = [
        ("(a) comparison (fast ref) ÷ three separate calls (exact ref)", times["comparison"] / times["separate"], "≤ 0.85"),
        ("(b) fast ÷ exact reference-only, per step", per_step["fast"] / per_step["exact"], "≤ 0.85"),
        ("(c) exact reference-only ÷ plain, per step", per_step["exact"] / per_step["plain"], "report"),
        ("(c) fast reference-only ÷ plain, per step", per_step["fast"] / per_step["plain"], "report"),
    ]
    lines = [
        f"Machine: {machine_line()}. Models: {args.models or 'tiny random model set'}. {args.size}x{args.size}, "
        f"{args.steps} steps, img2img strength 0.6, DPM++ 2M Karras, CFG 7.5, batch 1, median of {args.repeats} "
        f"interleaved runs (comparison {times['comparison']:.2f} s, separate calls {times['separate']:.2f} s; "
        f"per step: plain {per_step['plain'] * 1000:.0f} ms, exact {per_step['exact'] * 1000:.0f} ms, "
        f"fast {per_step['fast'] * 1000:.0f} ms).",
        "",
        "| ratio | value | target |",
        "|---|---:|---|",
        *(f"| {label} | {value:.3f} | {target} |" for label, value, target in rows),
    ]
    publish(args, "compare", "Comparison and reference-only (`benchmarks/compare.py`)", lines)


if __name__ == "__main__":
    main()
