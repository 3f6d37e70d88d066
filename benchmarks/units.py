"""Several units at once against diffusers' multi-unit pipelines, same weights and settings, in one process.

    python -m benchmarks.units [--models DIR] [--size 128] [--steps 10] [--repeats 5]

Two ControlNets (canny + depth, their own scales and windows) with three IP-Adapter units (base,
plus, plus-face) against ``StableDiffusionControlNetPipeline`` given a list of ControlNets and
``load_ip_adapter`` with three weight names; two T2I-Adapters against ``MultiAdapter``. Without
--models it writes the tiny model set to a temporary folder. Writes the "units" section of BENCHMARKS.md.
"""

from __future__ import annotations

from dataclasses import replace

from ipa_demo.ip_adapter.inputs import MoreReferences
from ipa_demo.settings import ControlNetSettings, GenerationSettings, IPAdapterSettings, T2IAdapterSettings
from ipa_demo.settings.units import IPUnitImages, StructureImages, UnitImages
from tests.helpers import noise_image
from tests.reference_pipelines import ReferencePipeline

from .report import interleaved_medians, machine_line, models_and_engine, parse_arguments, publish


def main() -> None:
    args = parse_arguments(__doc__, size=128, steps=10, repeats=5)
    models, engine = models_and_engine(args)
    three = ReferencePipeline.load(models, ["base", "plus", "plus-face"])
    plain = ReferencePipeline.load(models)
    references = [noise_image(96, 72, seed=seed) for seed in (1, 2, 3)]
    edges, depth = noise_image(args.size, args.size, seed=4), noise_image(args.size, args.size, seed=5)
    base = GenerationSettings(prompt="a room with a window", seed=0, width=args.size, height=args.size,
                              steps=args.steps, control_is_map=True)  # fmt: skip
    stacked = replace(
        base,
        ip=IPAdapterSettings(scale=0.7, variant="base"),
        ip2=IPAdapterSettings(scale=0.5, variant="plus"),
        more_ip_units=(IPAdapterSettings(scale=0.6, variant="plus-face"),),
        controlnet=ControlNetSettings("canny", scale=0.9, end=0.8),
        more_controlnet_units=(ControlNetSettings("depth", scale=0.6, start=0.2),),
    )
    stacked_images = UnitImages(ip=(IPUnitImages((references[2],)),), controlnet=(StructureImages(map=depth),))
    more = MoreReferences(ip2_references=(references[1],))
    t2i = replace(base, ip=IPAdapterSettings(scale=0.0), t2i=T2IAdapterSettings("canny", scale=0.8),
                  more_t2i_units=(T2IAdapterSettings("depth", scale=0.5),))  # fmt: skip
    adapters = [engine.t2i_adapter("canny"), engine.t2i_adapter("depth")]
    t2i_maps = [edges.convert("L") if adapters[0].config.in_channels == 1 else edges, depth]  # diffusers takes them as given

    modes = {
        "2 ControlNets + 3 IP-Adapter units": (
            lambda: engine.generate(stacked, references[:1], control_image=edges, more=more, units=stacked_images),
            lambda: three.run(
                stacked, ip_scale=[0.7, 0.5, 0.6], ip_adapter_image=references,
                controlnet=[engine.controlnet("canny"), engine.controlnet("depth")], control_map=[edges, depth],
            ),  # fmt: skip
        ),
        "2 T2I-Adapters": (
            lambda: engine.generate(t2i, control_image=edges, units=UnitImages(t2i=(StructureImages(map=depth),))),
            lambda: plain.run(t2i, adapter=adapters, control_map=t2i_maps),
        ),
    }
    rows = []
    for mode, (ours, theirs) in modes.items():
        times = interleaved_medians({"ours": ours, "diffusers": theirs}, args.repeats)
        rows.append((mode, times["ours"], times["diffusers"], times["ours"] / times["diffusers"]))

    source = args.models or "tiny random model set"
    table = [
        f"Machine: {machine_line()}. Models: {source}. {args.size}x{args.size}, {args.steps} steps, "
        f"DPM++ 2M Karras, CFG 7.5, batch 1, median of {args.repeats} interleaved runs.",
        "",
        "| request | ours (s) | diffusers (s) | ours / diffusers |",
        "|---|---:|---:|---:|",
        *(f"| {mode} | {ours:.3f} | {theirs:.3f} | {ratio:.3f} |" for mode, ours, theirs, ratio in rows),
        "",
        "On the tiny set a run is mostly per-call work around the models (diffusers' pipeline builds its inputs "
        "and checks them each call), not UNet compute; the real models on a GPU are not measured here.",
    ]
    publish(args, "units", "Several units at once vs diffusers' multi-unit pipelines (`benchmarks/units.py`)", table)


if __name__ == "__main__":
    main()
