"""Speed and peak memory of every mode on a GPU box, against diffusers' stock pipelines in the same run.

    python -m benchmarks.gpu [--models DIR] [--size 512] [--steps 30] [--repeats 3] [--sdxl-size 1024]

With --models pointing at real weights it times them; without, the tiny random set (CI smoke-tests
it on the CPU at a small size). fp16 on CUDA, fp32 on the CPU, for ours and diffusers' alike.
Modes with no stock pipeline (IP + T2I, reference-only, which diffusers has only as a community
pipeline fetched at run time, and our comparison) are timed for us alone. Writes the "gpu" section
of BENCHMARKS.md when run on CUDA (a CPU run prints only, unless --write-cpu). With SDXL base in the
models folder, its rows run at its own size (1024x1024) with the same steps (``sdxl.py``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from ipa_demo.compare import compare
from ipa_demo.explore.axes import parse_axis
from ipa_demo.explore.sweep import plan
from ipa_demo.explore.sweep import run as sweep
from ipa_demo.settings import (
    ControlNetSettings,
    GenerationSettings,
    IPAdapterSettings,
    ReferenceOnlySettings,
    T2IAdapterSettings,
)
from ipa_demo.settings.values import values_from_settings
from tests.helpers import noise_image
from tests.reference_pipelines import ReferencePipeline

from .report import interleaved_medians, machine_line, models_and_engine, publish
from .sdxl import SDXLRows, sdxl_rows

Run = Callable[[], object]


def peak_memory_mib(run: Run, device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    run()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2**20


def synchronised(run: Run, device: torch.device) -> Run:
    def timed() -> None:
        run()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return timed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sdxl-size", type=int, help="SDXL rows' size (default: the model's own, 1024 on SDXL base)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--write-cpu", action="store_true", help="write BENCHMARKS.md even without CUDA")
    args = parser.parse_args(argv)
    models, engine = models_and_engine(args, dtype_for_device=True)
    device, dtype = engine.device, engine.dtype
    with_ip = ReferencePipeline.load(models, "base", device=device, dtype=dtype)
    plain = ReferencePipeline.load(models, device=device, dtype=dtype)

    reference = noise_image(args.size, args.size, seed=1)
    control = noise_image(args.size, args.size, seed=2)
    base = GenerationSettings(
        prompt="a photo of a cat", width=args.size, height=args.size, steps=args.steps, ip=IPAdapterSettings(scale=0.0)
    )
    ip = replace(base, ip=IPAdapterSettings(scale=0.7))
    ip_controlnet = replace(ip, controlnet=ControlNetSettings(kind="canny"), control_is_map=True)
    ip_t2i = replace(ip, t2i=T2IAdapterSettings(kind="canny"), control_is_map=True)
    reference_only = replace(base, reference_only=ReferenceOnlySettings(mode="attn"))
    fast_reference_only = replace(base, reference_only=ReferenceOnlySettings(mode="attn", fast=True))
    canny_net = engine.controlnet("canny")
    sweep_axis = parse_axis("ip-scale=0,0.25,0.5,0.75,1,1.25,1.5,2", "--x")
    sweep_cells = plan(values_from_settings(ip), 0, sweep_axis)

    modes: dict[str, tuple[Run, Run | None]] = {
        "txt2img": (lambda: engine.generate(base), lambda: plain.run(base)),
        "IP-Adapter": (
            lambda: engine.generate(ip, [reference]),
            lambda: with_ip.run(ip, ip_scale=0.7, reference=reference),
        ),
        "IP + ControlNet canny": (
            lambda: engine.generate(ip_controlnet, [reference], control_image=control),
            lambda: with_ip.run(ip_controlnet, ip_scale=0.7, reference=reference, controlnet=canny_net, control_map=control),
        ),
        "IP + T2I canny": (lambda: engine.generate(ip_t2i, [reference], control_image=control), None),
        "reference-only (exact)": (lambda: engine.generate(reference_only, [reference]), None),
        "reference-only (fast)": (lambda: engine.generate(fast_reference_only, [reference]), None),
        "comparison (3 methods)": (lambda: compare(engine, replace(ip, strength=0.6), reference), None),
        "8-cell λ sweep, batched": (lambda: sweep(engine, sweep_cells, sweep_axis, references=[reference], batch_size=8), None),
        "the 8 cells as generate calls": (lambda: [engine.generate(cell.settings, [reference]) for cell in sweep_cells], None),
        "the 3 as separate calls (exact ref)": (
            lambda: (
                engine.generate(reference_only, [reference]),
                engine.generate(replace(base, strength=0.6), [reference], init_image=reference),
                engine.generate(ip, [reference]),
            ),
            None,
        ),
    }
    sdxl = sdxl_rows(models, device, dtype, args.sdxl_size, args.steps, reference)
    if isinstance(sdxl, SDXLRows):
        modes |= sdxl.modes
    runs: dict[tuple[str, str], Run] = {}
    for mode, (ours, theirs) in modes.items():
        runs[(mode, "ours")] = synchronised(ours, device)
        if theirs is not None:
            runs[(mode, "diffusers")] = synchronised(theirs, device)
    times = interleaved_medians(runs, args.repeats)
    rows = []
    for mode, (ours, _) in modes.items():
        mine = times[(mode, "ours")]
        stock = times.get((mode, "diffusers"))
        memory = peak_memory_mib(ours, device)
        rows.append(
            f"| {mode} | {mine:.3f} | {f'{stock:.3f}' if stock else 'no stock pipeline'} | "
            f"{f'{mine / stock:.3f}' if stock else '–'} | {f'{memory:.0f}' if memory else '–'} |"
        )
    lines = [
        f"Machine: {machine_line()}. Models: {args.models or 'tiny random model set'}. {args.size}x{args.size}, "
        f"{args.steps} steps, DPM++ 2M Karras, CFG 7.5, batch 1, {str(dtype).removeprefix('torch.')}, "
        f"median of {args.repeats} interleaved runs.",
        "",
        "| mode | ours (s) | diffusers (s) | ours / diffusers | peak VRAM, ours (MiB) |",
        "|---|---:|---:|---:|---:|",
        *rows,
        "",
        "Comparison (fast reference) ÷ the three methods as separate calls (exact reference): "
        f"{times[('comparison (3 methods)', 'ours')] / times[('the 3 as separate calls (exact ref)', 'ours')]:.3f}. "
        "8-cell λ sweep (cells batched 8 to a UNet call) ÷ the 8 cells as generate calls: "
        f"{times[('8-cell λ sweep, batched', 'ours')] / times[('the 8 cells as generate calls', 'ours')]:.3f}.",
        "",
        f"SDXL rows: SDXL base at {sdxl.size}x{sdxl.size}, {args.steps} steps, against `StableDiffusionXLPipeline` "
        "(float16: both decode with madebyollin/sdxl-vae-fp16-fix where it is in the models folder; IP-Adapter: "
        "ip-adapter_sdxl, scale 0.7)." if isinstance(sdxl, SDXLRows) else sdxl,
    ]
    if device.type != "cuda" and not args.write_cpu:
        args.no_write = True
    publish(args, "gpu", "Every mode on a GPU (`benchmarks/gpu.py`)", lines)


if __name__ == "__main__":
    main()
