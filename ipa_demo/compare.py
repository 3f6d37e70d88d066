"""Side by side: reference-only, img2img and IP-Adapter (and IP + structure) on one seed.

Every method runs through ``Engine.generate`` with the same prompt, seed, sampler, steps, CFG and
size, so each picture is exactly what that method gives alone (a test holds them bit-identical).
Work that does not depend on the method is done once and shared through the engine's caches:
the CLIP encoding of the reference, its VAE encoding (img2img's init latents and reference-only's
reference latents), the canny/depth map. Reference-only defaults to its fast mode, one UNet call a
step. The methods are not batched into one UNet call: on the CPU a different batch size changes
float rounding (MKL picks its kernels by matrix size), and "identical to running it alone" matters
more here than that speed-up (on a GPU it is the next one to measure).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch
from PIL import Image, ImageDraw

from . import grid_labels
from .loop import StepCallback, steps_to_run, within
from .settings import ControlNetSettings, GenerationSettings, ReferenceOnlySettings, T2IAdapterSettings
from .structure.control_maps import fit_to_size

if TYPE_CHECKING:
    from .engine import Engine


@dataclass(frozen=True)
class ComparisonMethod:
    label: str
    settings: GenerationSettings
    init_from_reference: bool = False  # img2img starts from the reference itself
    uses_control: bool = False


@dataclass(frozen=True)
class ComparisonEntry:
    label: str
    image: Image.Image
    parameters: str
    similarity: float  # cosine of CLIP image embeddings, output vs reference
    seconds: float
    settings: GenerationSettings


@dataclass(frozen=True)
class ComparisonResult:
    entries: list[ComparisonEntry]
    grid: Image.Image
    encoder_name: str
    warnings: tuple[str, ...]


def comparison_methods(settings: GenerationSettings, with_control: bool) -> list[ComparisonMethod]:
    """One request's settings turned into the methods to compare (one image each)."""
    neutral = replace(
        settings,
        num_images=1,
        ip=replace(settings.ip, scale=0.0),
        ip2=replace(settings.ip2, scale=0.0),  # the comparison is of one reference: no second adapter
        reference_only=ReferenceOnlySettings(),
        controlnet=ControlNetSettings(),
        t2i=T2IAdapterSettings(),
        more_ip_units=(),  # nor further units of any kind: each method alone
        more_controlnet_units=(),
        more_t2i_units=(),
    )
    chosen_reference = settings.reference_only
    if chosen_reference.mode == "off":  # not set by the user: the common default, fast pass
        chosen_reference = ReferenceOnlySettings(mode="attn", fast=True)
    # The comparison takes one reference: weights meant for several do not apply to it.
    ip_adapter = replace(neutral, ip=replace(settings.ip, reference_weights=()))
    methods = [
        ComparisonMethod(f"Reference-only ({chosen_reference.mode})", replace(neutral, reference_only=chosen_reference)),
        ComparisonMethod(f"img2img (strength {settings.strength:g})", neutral, init_from_reference=True),
        ComparisonMethod(f"IP-Adapter (λ {settings.ip.scale:g})", ip_adapter),
    ]
    if with_control:
        controlnet, t2i = settings.controlnet, settings.t2i
        if not (controlnet.is_active or t2i.is_active):
            controlnet = ControlNetSettings(kind="canny")
        structured = replace(ip_adapter, controlnet=controlnet, t2i=t2i)
        names = [f"ControlNet {controlnet.kind}"] * controlnet.is_active + [f"T2I {t2i.kind}"] * t2i.is_active
        methods.append(ComparisonMethod(f"IP-Adapter + {' + '.join(names)}", structured, uses_control=True))
    return methods


def similarity(engine: Engine, reference: Image.Image, image: Image.Image) -> float:
    encoder = engine.image_encoder
    embeds = [encoder.encode([picture], "crop", hidden_states=False).positive for picture in (reference, image)]
    return float(torch.nn.functional.cosine_similarity(embeds[0].float(), embeds[1].float()).item())


def compare(
    engine: Engine,
    settings: GenerationSettings,
    reference: Image.Image,
    control_image: Image.Image | None = None,
    on_step: StepCallback | None = None,
) -> ComparisonResult:
    methods = comparison_methods(settings, with_control=control_image is not None)
    total = sum(_steps_of(method) for method in methods)
    entries: list[ComparisonEntry] = []
    warnings: list[str] = []
    done = 0
    for method in methods:
        started = time.perf_counter()
        result = engine.generate(
            method.settings,
            [reference],
            init_image=reference if method.init_from_reference else None,
            control_image=control_image if method.uses_control else None,
            on_step=within(on_step, done, total),
        )
        seconds = time.perf_counter() - started
        done += _steps_of(method)
        warnings.extend(warning for warning in result.warnings if warning not in warnings)
        image = result.images[0]
        entries.append(
            ComparisonEntry(
                method.label, image, result.parameters[0], similarity(engine, reference, image), seconds, method.settings
            )
        )
    config = engine.image_encoder.encoder.config
    encoder_name = f"IP-Adapter's CLIP image encoder (ViT, width {config.hidden_size}, patch {config.patch_size})"
    return ComparisonResult(entries, labelled_grid(reference, entries), encoder_name, tuple(warnings))


def _steps_of(method: ComparisonMethod) -> int:
    return steps_to_run(method.settings, img2img=method.init_from_reference)


def labelled_grid(reference: Image.Image, entries: list[ComparisonEntry]) -> Image.Image:
    """Reference first, then each output, with its label and score underneath (wrapped to the tile)."""
    width, height = entries[0].image.size
    tiles = [("Reference", fit_to_size(reference, width, height))] + [
        (f"{entry.label}\nCLIP {entry.similarity:.3f} · {entry.seconds:.1f}s", entry.image) for entry in entries
    ]
    font = grid_labels.label_font(grid_labels.font_size_for(width))
    captions = [grid_labels.wrap(label, font, width - 2 * grid_labels.MARGIN) for label, _ in tiles]
    grid = Image.new("RGB", (width * len(tiles), height + grid_labels.caption_height(captions, font)), "white")
    draw = ImageDraw.Draw(grid)
    for column, ((_, image), lines) in enumerate(zip(tiles, captions)):
        grid.paste(image, (column * width, 0))
        grid_labels.draw_caption(draw, lines, (column * width, height), font)
    return grid
