"""Our loop against diffusers' stock pipelines, same weights and settings, in one process.

    python -m benchmarks.core [--models DIR] [--size 128] [--steps 20] [--repeats 7] [--family sd15|sdxl]

Without --models it writes the tiny model set to a temporary folder. Prints a table and writes the
"core" section of BENCHMARKS.md (SD 1.5) and the "core-sdxl" one (SDXL base against
``StableDiffusionXLPipeline``, at the model's own size): median seconds per image and the ratio ours /
diffusers. ``--family`` times one family only and leaves the other's section as it is.
"""

from __future__ import annotations

from dataclasses import replace

from ipa_demo.settings import GenerationSettings, IPAdapterSettings
from tests.helpers import noise_image
from tests.reference_pipelines import ReferencePipeline

from .report import interleaved_medians, machine_line, models_and_engine, parse_arguments, publish
from .sdxl import SDXLRows, sdxl_rows

HEADER = ["| mode | ours (s) | diffusers (s) | ours / diffusers |", "|---|---:|---:|---:|"]


def main() -> None:
    args = parse_arguments(__doc__, size=128, steps=20, repeats=7, families=("sd15", "sdxl"))
    families = args.family or ["sd15", "sdxl"]
    models, engine = models_and_engine(args)
    reference = noise_image(96, 72, seed=1)
    source = args.models or "tiny random model set"
    if "sd15" in families:
        plain = ReferencePipeline.load(models)
        with_ip = ReferencePipeline.load(models, "base")
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
            "img2img": (
                lambda: engine.generate(img2img, init_image=init), lambda: plain.run(img2img, init_image=init)
            ),
        }
        table = [
            f"Machine: {machine_line()}. Models: {source}. {args.size}x{args.size}, {args.steps} steps "
            f"(img2img strength 0.6), DPM++ 2M Karras, CFG 7.5, batch 1, median of {args.repeats} interleaved runs.",
            "",
            *HEADER,
            *_rows(modes, args.repeats),
        ]
        publish(args, "core", "Core loop vs diffusers' stock pipelines (`benchmarks/core.py`)", table)
    if "sdxl" in families:
        sdxl = sdxl_rows(models, engine.device, engine.dtype, None, args.steps, reference)
        if isinstance(sdxl, SDXLRows):
            lines = [
                f"Machine: {machine_line()}. Models: {args.models or 'the tiny twin of'} SDXL base. "
                f"{sdxl.size}x{sdxl.size} (the model's own "
                f"size), {args.steps} steps, DPM++ 2M Karras, CFG 7.5, batch 1, against `StableDiffusionXLPipeline` "
                f"(IP-Adapter: ip-adapter_sdxl, scale 0.7), median of {args.repeats} interleaved runs.",
                "",
                *HEADER,
                *_rows(sdxl.modes, args.repeats),
            ]
        else:
            lines = [sdxl]
        publish(args, "core-sdxl", "Core loop vs diffusers on SDXL (`benchmarks/core.py`)", lines)


def _rows(modes: dict, repeats: int) -> list[str]:
    rows = []
    for mode, (ours, theirs) in modes.items():
        times = interleaved_medians({"ours": ours, "diffusers": theirs}, repeats)
        ratio = times["ours"] / times["diffusers"]
        rows.append(f"| {mode} | {times['ours']:.3f} | {times['diffusers']:.3f} | {ratio:.3f} |")
    return rows


if __name__ == "__main__":
    main()
