"""Command line: ``python -m ipa_demo generate|compare|sweep|evaluate|train|download|tiny-models ...``.

Every failure the user can fix ends as one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from .errors import CheckpointError, MissingModelError, ModelLoadError, OutOfMemoryError
from .evaluate.arguments import add_evaluate_arguments
from .images import ImageInputError
from .ip_adapter.inputs import NO_MORE, MoreReferences, check_more_references
from .ip_adapter.user_checkpoint import add_ip_checkpoint_argument, read_user_checkpoint
from .models.catalog import add_depth_model_argument
from .models.specs import SPECS_BY_KEY
from .models.user_flags import add_lora_arguments, add_vae_argument, default_base_model, prompt_with_loras
from .settings import GenerationSettings, SettingsError
from .settings.arguments import add_setting_arguments, flag_message, settings_from_args
from .settings.unit_arguments import add_unit_arguments, apply_unit_arguments
from .settings.units import NO_UNIT_IMAGES, UnitImages, check_unit_images
from .training.cli import add_train_arguments, run_train

if TYPE_CHECKING:
    from .engine import Engine

USER_ERRORS = (SettingsError, ImageInputError, MissingModelError, ModelLoadError, CheckpointError, OutOfMemoryError)


def _add_generation_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", help="folder laid out like the Hub repos (default: $IPA_MODELS_DIR or the Hub)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda if present)")
    parser.add_argument("--offload", action="store_true", help="keep models in CPU memory, one stage on the GPU at a time")
    add_depth_model_argument(parser)
    add_vae_argument(parser)  # --base-model is the base_model setting's flag
    add_ip_checkpoint_argument(parser)
    add_lora_arguments(parser, with_scales=True)
    parser.add_argument("--reference", action="append", type=Path, default=[], help="reference image (repeatable)")
    parser.add_argument("--reference-mask", action="append", type=Path, default=[], metavar="FILE",
                        help="a region mask per --reference, in their order (white: where it acts)")  # fmt: skip
    parser.add_argument("--ip2-reference", action="append", type=Path, default=[], metavar="FILE",
                        help="a reference image of the second adapter (repeatable; see --ip2-scale)")  # fmt: skip
    parser.add_argument("--ip2-mask", action="append", type=Path, default=[], metavar="FILE",
                        help="a region mask per --ip2-reference, in their order (white: where it acts)")  # fmt: skip
    parser.add_argument("--negative-reference", type=Path, metavar="FILE",
                        help="the unconditional side of IP-Adapter sees this image, not the zero image")  # fmt: skip
    parser.add_argument("--init-image", type=Path, help="img2img: start from this image")
    parser.add_argument("--mask-image", type=Path, help="inpainting: redo the white part of --init-image (black: keep)")
    control = parser.add_mutually_exclusive_group()
    control.add_argument("--control-image", type=Path, help="photo to take the structure from (canny, depth, pose)")
    control.add_argument("--control-map", type=Path, help="a ready canny/depth/pose map, used as is")
    add_setting_arguments(parser)
    add_unit_arguments(parser)
    parser.set_defaults(ip_variant=None)  # None: the --ip-checkpoint file's variant, else the default
    parser.add_argument("--out", type=Path, default=Path("outputs"))


def writable_folder(folder: Path, flag: str) -> Path:
    """Make sure ``folder`` is (or can become) a folder we can write to, before any work starts."""
    if folder.exists() and not folder.is_dir():
        raise SettingsError(flag, f"{folder} is a file; give a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise SettingsError(flag, f"cannot write to {folder} ({error.strerror or error})") from None
    return folder


def _next_free_index(folder: Path) -> int:
    numbers = [int(path.name[:5]) for path in folder.glob("[0-9][0-9][0-9][0-9][0-9]-*.png")]
    return max(numbers, default=-1) + 1


@dataclass(frozen=True)
class Request:
    settings: GenerationSettings
    references: list[Image.Image]
    init_image: Image.Image | None
    control_image: Image.Image | None
    mask_image: Image.Image | None = None
    more: MoreReferences = NO_MORE
    units: UnitImages = NO_UNIT_IMAGES  # the images of settings.more_*_units (the --*-unit flags)


def read_request(args: argparse.Namespace) -> Request:
    """Settings and images from the flags, checked before any model loads."""
    from .images import load_image, load_mask
    from .settings import IPAdapterSettings, check_inputs
    from .unit_images import load_unit_images

    if args.ip_variant is None:
        user_file = read_user_checkpoint(args.ip_checkpoint) if args.ip_checkpoint else None
        args.ip_variant = user_file.variant if user_file else IPAdapterSettings().variant
    settings, unit_paths = apply_unit_arguments(args, settings_from_args(args))
    prompt = prompt_with_loras(settings.prompt, args.lora, args.lora_scale)
    settings = replace(settings, prompt=prompt) if prompt != settings.prompt else settings
    references = [load_image(path, "reference") for path in args.reference]
    init_image = load_image(args.init_image, "init image") if args.init_image else None
    mask_image = load_image(args.mask_image, "mask image") if getattr(args, "mask_image", None) else None
    if mask_image is not None and init_image is None:
        raise SettingsError("mask_image", "a mask needs an init image (--init-image) to paint on")
    control_path = args.control_image or args.control_map
    control_image = load_image(control_path, "control image") if control_path else None
    negative = load_image(args.negative_reference, "negative reference") if args.negative_reference else None
    masks = tuple(load_mask(path, "reference mask") for path in args.reference_mask)
    more = MoreReferences(
        negative_reference=negative,
        reference_masks=masks,
        ip2_references=tuple(load_image(path, "second adapter's reference") for path in args.ip2_reference),
        ip2_masks=tuple(load_mask(path, "second adapter's mask") for path in args.ip2_mask),
    )
    check_inputs(settings, references, init_image, control_image)
    check_more_references(settings, references, more)
    units = load_unit_images(unit_paths)
    check_unit_images(settings, units)
    return Request(settings, references, init_image, control_image, mask_image, more, units)


def load_engine(args: argparse.Namespace) -> Engine:
    from .engine import Engine
    from .models.sources import ModelSources
    from .runtime import pick_device, quiet_library_output

    device, dtype = pick_device(args.device)
    quiet_library_output()
    return Engine(
        ModelSources.from_env(args.models),
        device,
        dtype,
        offload=args.offload,
        depth_model=args.depth_model,
        base_model=default_base_model(args.base_model),
        vae=args.vae,
        ip_checkpoint=args.ip_checkpoint,
        loras=args.lora,
    )


def _print_warnings(warnings: Sequence[str]) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)


def run_generate(args: argparse.Namespace) -> int:
    from .metadata import save_png

    request = read_request(args)
    writable_folder(args.out, "--out")
    result = load_engine(args).generate(
        request.settings, request.references, request.init_image, request.control_image,
        mask_image=request.mask_image, more=request.more, units=request.units, injection_maps=args.injection_maps,
    )  # fmt: skip
    _print_warnings(result.warnings)
    index = _next_free_index(args.out)
    for offset, (image, seed, parameters) in enumerate(zip(result.images, result.seeds, result.parameters, strict=True)):
        path = save_png(image, args.out / f"{index + offset:05d}-{seed}.png", parameters)
        print(path)
    if result.injection_maps is not None:
        from .explore.injection_view import injection_picture

        for offset, (image, seed) in enumerate(zip(result.images, result.seeds, strict=True)):
            path = args.out / f"{index + offset:05d}-{seed}-injection.png"
            injection_picture(result.injection_maps, image, offset).save(path)
            print(path)
    for kind, control_map in result.control_maps.items():
        path = args.out / f"{index:05d}-{request.settings.seed}-{kind}-map.png"
        control_map.save(path)
        print(path)
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from .compare import compare
    from .metadata import save_png

    request = read_request(args)
    if not request.references:
        raise SettingsError("reference_images", "the comparison needs a --reference image")
    writable_folder(args.out, "--out")
    result = compare(load_engine(args), request.settings, request.references[0], request.control_image)
    _print_warnings(result.warnings)
    summary = {"encoder": result.encoder_name, "settings": asdict(request.settings), "methods": []}
    for entry in result.entries:
        name = re.sub(r"[^a-z0-9]+", "-", entry.label.lower()).strip("-") + ".png"
        save_png(entry.image, args.out / name, entry.parameters)
        summary["methods"].append(
            {"label": entry.label, "file": name, "clip_similarity": entry.similarity, "seconds": entry.seconds,
             "settings": asdict(entry.settings)}  # fmt: skip
        )
    result.grid.save(args.out / "grid.png")
    (args.out / "comparison.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    print(args.out / "comparison.json")
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    from .explore.axes import NO_AXIS, parse_axis
    from .explore.report import write_sweep
    from .explore.sweep import plan, run
    from .settings.values import values_from_settings

    x = parse_axis(args.x, "--x")
    y = parse_axis(args.y, "--y") if args.y else NO_AXIS
    if args.batch_size < 1:
        raise SettingsError("--batch-size", f"must be at least 1, got {args.batch_size}")
    request = read_request(args)
    plan(values_from_settings(request.settings), request.settings.seed, x, y)  # refused before any model loads
    writable_folder(args.out, "--out")
    engine = load_engine(args)
    architecture = engine.models.architecture  # the layer atlas goes over the loaded model's own modules
    x = parse_axis(args.x, "--x", architecture)
    y = parse_axis(args.y, "--y", architecture) if args.y else NO_AXIS
    cells = plan(values_from_settings(request.settings), request.settings.seed, x, y)
    result = run(engine, cells, x, y, request.references, request.init_image, request.control_image,
                 differences=not args.no_differences, mask_image=request.mask_image,
                 batch_size=args.batch_size, units=request.units)  # fmt: skip
    print(write_sweep(result, args.out))
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from .evaluate.runner import evaluate

    print(evaluate(args, load_engine, writable_folder))
    return 0


def run_tiny_models(args: argparse.Namespace) -> int:
    from .models.tiny import write_tiny_models

    print(write_tiny_models(writable_folder(args.dir, "dir"), seed=args.seed))
    return 0


def run_download(args: argparse.Namespace) -> int:
    from .models.download import run

    models_dir = args.dir and writable_folder(args.dir, "dir")
    if args.base_model or args.vae:  # the user's own Hub repos, besides or instead of the catalog
        from .models.base_model import fetch_hub_model

        if args.dry_run:
            raise SettingsError("--dry-run", "lists the catalog's files only, not --base-model / --vae repos")
        for repo_id, vae in [*((repo, False) for repo in args.base_model), *((repo, True) for repo in args.vae)]:
            print(fetch_hub_model(repo_id, models_dir, vae=vae))
        if not args.only:
            return 0
    return run(models_dir, args.only, args.dry_run)


def _add_download_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, nargs="?", help="models folder for --models DIR (default: the Hugging Face cache)")
    parser.add_argument("--only", nargs="+", choices=tuple(SPECS_BY_KEY), default=[], metavar="KEY",
                        help=f"components to fetch (default: all): {', '.join(SPECS_BY_KEY)}")  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="list the files and their sizes, fetch nothing")
    parser.add_argument("--base-model", action="append", default=[], metavar="HUB_ID",
                        help="also fetch this SD1.5 diffusers repo (unet, vae, text encoder, tokenizer, scheduler); "
                        "with it, the catalog only with --only")  # fmt: skip
    parser.add_argument("--vae", action="append", default=[], metavar="HUB_ID", help="also fetch this VAE repo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ipa_demo", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="text + reference image -> PNGs with their settings inside")
    _add_generation_arguments(generate)
    generate.add_argument("--injection-maps", action="store_true",
                          help="also save where the image prompt acted: per stage and over each image")  # fmt: skip
    generate.set_defaults(run=run_generate)
    comparison = commands.add_parser("compare", help="reference-only vs img2img vs IP-Adapter on one seed")
    _add_generation_arguments(comparison)
    comparison.set_defaults(run=run_compare)
    sweep = commands.add_parser("sweep", help="an X/Y grid over any setting (λ, layers, window, ...) on one seed")
    _add_generation_arguments(sweep)
    sweep.add_argument("--x", required=True, help="NAME=V1,V2,... e.g. ip-scale=0,0.5,1; ip-layers=each for the layer atlas")
    sweep.add_argument("--y", help="a second axis, e.g. ip-preset=all,style,composition")
    sweep.add_argument("--no-differences", action="store_true", help="skip the λ=0 images and the difference maps")
    sweep.add_argument("--batch-size", type=int, default=4, metavar="N",
                       help="cells per UNet call where they differ only in IP-Adapter settings and seed (default 4; "
                            "lower it if memory runs out, 1 makes each cell alone)")  # fmt: skip
    sweep.set_defaults(run=run_sweep)
    evaluation = commands.add_parser("evaluate", help="the comparison over a data set, scored with CLIP-I / CLIP-T (Ray optional)")
    _add_generation_arguments(evaluation)
    add_evaluate_arguments(evaluation)
    evaluation.set_defaults(run=run_evaluate)
    download = commands.add_parser("download", help="fetch exactly the model files the app loads (then run offline)")
    _add_download_arguments(download)
    download.set_defaults(run=run_download)
    tiny = commands.add_parser("tiny-models", help="write a tiny random model set (for tests; no download)")
    tiny.add_argument("dir", type=Path)
    tiny.add_argument("--seed", type=int, default=0)
    tiny.set_defaults(run=run_tiny_models)
    train = commands.add_parser("train", help="train an IP-Adapter (accelerate: one CPU to many GPUs)")
    add_train_arguments(train)
    train.set_defaults(run=run_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except SettingsError as error:
        print(f"error: {flag_message(error)}", file=sys.stderr)
        return 2
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the disk filled up, a folder vanished, ...: what happened, in one line
        print(f"error: {error.filename or 'a file'}: {error.strerror or error}", file=sys.stderr)
        return 2
