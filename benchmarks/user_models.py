"""The user's models: switching the base model (cold and warm), and LoRA's cost per step vs diffusers.

    python -m benchmarks.user_models [--models DIR] [--size 128] [--repeats 41]

Switching: the engine starts on the folder SD1.5; "cold" is the first switch of the process to the
single-file checkpoint (diffusers' single-file conversion runs for the first time); "warm" are later switches between the two (files in the page cache, code warmed up), the
old models released each time. LoRA: one UNet call (what a step costs, bar the scheduler) with and
without the tiny LoRA at scale 1, ours and diffusers' UNet after load_lora_weights.
Writes the "user_models" section of BENCHMARKS.md.
"""

from __future__ import annotations

import statistics
import time
from contextlib import ExitStack
from functools import partial

import torch
from diffusers import StableDiffusionPipeline

from ipa_demo.engine import Engine
from ipa_demo.models.lora import read_tags
from ipa_demo.models.sources import ModelSources
from ipa_demo.models.tiny_user import LORA_FILE, SINGLE_FILE

from .report import interleaved_medians, machine_line, models_and_engine, parse_arguments, publish


def timed(run: partial[object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    args = parse_arguments(__doc__, size=128, repeats=41)
    torch.set_num_threads(1)  # on a shared machine, spinning worker threads cost more than they give
    models, _ = models_and_engine(args)
    single_file = str(models / SINGLE_FILE)

    # One model kept loaded: each request for the other model loads it (what a switch costs).
    switching = Engine(ModelSources(models), base_model_options=[single_file], keep_base_models=1)
    cold = timed(partial(switching.base_models.get, single_file))
    to_folder, to_file = [], []
    for _ in range(5):
        to_folder.append(timed(partial(switching.base_models.get, "")))
        to_file.append(timed(partial(switching.base_models.get, single_file)))
    del switching

    plain_engine = Engine(ModelSources(models))
    engine = Engine(ModelSources(models), loras=[str(models / LORA_FILE)])
    plain_pipe = StableDiffusionPipeline.from_pretrained(models / "stable-diffusion-v1-5", safety_checker=None)
    pipe = StableDiffusionPipeline.from_pretrained(models / "stable-diffusion-v1-5", safety_checker=None)
    pipe.load_lora_weights(str(models / LORA_FILE), adapter_name="tiny")
    pipe.set_adapters(["tiny"], [1.0])
    latent = args.size // 8
    sample = torch.randn(2, 4, latent, latent, generator=torch.Generator().manual_seed(0))  # a CFG batch
    text = torch.randn(2, 77, engine.models.unet.config.cross_attention_dim, generator=torch.Generator().manual_seed(1))
    timestep = torch.tensor(500)
    use = read_tags("<lora:tiny-lora:1>")[1]

    def ours(target: Engine) -> None:
        target.models.unet(sample, timestep, encoder_hidden_states=text, cross_attention_kwargs={"ip": None})

    def theirs(target: StableDiffusionPipeline) -> None:
        target.unet(sample, timestep, encoder_hidden_states=text)

    def switch_on_and_off() -> None:
        with engine.loras.applied(engine.models, use):
            pass

    with ExitStack() as stack:
        stack.enter_context(engine.loras.applied(engine.models, use))  # on for the whole timing
        runs = {
            ("ours", False): partial(ours, plain_engine),
            ("ours", True): partial(ours, engine),
            ("diffusers", False): partial(theirs, plain_pipe),
            ("diffusers", True): partial(theirs, pipe),
        }
        per_step = interleaved_medians(runs, args.repeats)  # type: ignore[arg-type]
    switching_cost = interleaved_medians({"switch": switch_on_and_off}, args.repeats)["switch"]

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.1f}"

    lines = [
        f"Machine: {machine_line()}. Models: {args.models or 'tiny random model set'}.",
        "",
        "Switching the base model (median of 5; the old models are released at each switch):",
        "",
        "| switch | ms |",
        "|---|---:|",
        f"| cold: folder → single file, first in the process | {ms(cold)} |",
        f"| warm: single file → folder | {ms(statistics.median(to_folder))} |",
        f"| warm: folder → single file | {ms(statistics.median(to_file))} |",
        "",
        (
            "On the tiny set these are the fixed costs of building the models and of diffusers' key conversion; "
            "with a real 2 GB checkpoint, reading it from disk comes on top (cold: from the disk, warm: from the "
            "page cache), and so does its SHA-256 for the PNG's Model hash, read once on the first request. "
            "No real checkpoint was available here to time that."
        ),
        "",
        (
            f"LoRA per step: one UNet call on a CFG batch (2 × {args.size}x{args.size}), median of {args.repeats} "
            "interleaved calls; the tiny LoRA at scale 1 on every attention projection, against the same "
            "models without it. Ours: our attention processors; diffusers: its own, after load_lora_weights."
        ),
        "",
        "| | ms per step, no LoRA | ms per step, LoRA | LoRA ÷ none |",
        "|---|---:|---:|---:|",
        *(
            f"| {who} | {ms(per_step[(who, False)])} | {ms(per_step[(who, True)])} | "
            f"{per_step[(who, True)] / per_step[(who, False)]:.2f} |"
            for who in ("ours", "diffusers")
        ),
        "",
        (
            f"Ours ÷ diffusers per step with the LoRA: {per_step[('ours', True)] / per_step[('diffusers', True)]:.2f}. "
            f"Once per request, switching the adapters on and off (UNet and text encoder): {ms(switching_cost)} ms."
        ),
    ]
    publish(args, "user_models", "User models: base-model switching and LoRA (`benchmarks/user_models.py`)", lines)


if __name__ == "__main__":
    main()
