"""Command line: ``python -m ipa_demo generate|compare|download|tiny-models ...``.

Every failure the user can fix ends as one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from .errors import CheckpointError, MissingModelError, ModelLoadError, OutOfMemoryError
from .images import ImageInputError
from .ip_adapter.inputs import NO_MORE, MoreReferences, check_more_references
from .models.catalog import SPECS_BY_KEY, add_depth_model_argument
from .settings import GenerationSettings, SettingsError
from .settings.arguments import add_setting_arguments, flag_message, settings_from_args
from .training.cli import add_train_arguments, run_train

if TYPE_CHECKING:
    from .engine import Engine

USER_ERRORS = (SettingsError, ImageInputError, MissingModelError, ModelLoadError, CheckpointError, OutOfMemoryError)


def _add_generation_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", help="folder laid out like the Hub repos (default: $IPA_MODELS_DIR or the Hub)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: cuda if present)")
    parser.add_argument("--offload", action="store_true", help="keep models in CPU memory, one stage on the GPU at a time")
    add_depth_model_argument(parser)
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
    control = parser.add_mutually_exclusive_group()
    control.add_argument("--control-image", type=Path, help="photo to take the structure from (canny, depth, pose)")
    control.add_argument("--control-map", type=Path, help="a ready canny/depth/pose map, used as is")
    add_setting_arguments(parser)
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
    more: MoreReferences = NO_MORE


def read_request(args: argparse.Namespace) -> Request:
    """Settings and images from the flags, checked before any model loads."""
    from .images import load_image, load_mask
    from .settings import check_inputs

    settings = settings_from_args(args)
    references = [load_image(path, "reference") for path in args.reference]
    init_image = load_image(args.init_image, "init image") if args.init_image else None
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
    return Request(settings, references, init_image, control_image, more)


def load_engine(args: argparse.Namespace) -> Engine:
    from .engine import Engine
    from .models.sources import ModelSources
    from .runtime import pick_device, quiet_library_output

    device, dtype = pick_device(args.device)
    quiet_library_output()
    return Engine(
        ModelSources.from_env(args.models), device, dtype, offload=args.offload, depth_model=args.depth_model
    )


def _print_warnings(warnings: Sequence[str]) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)


def run_generate(args: argparse.Namespace) -> int:
    from .metadata import save_png

    request = read_request(args)
    writable_folder(args.out, "--out")
    result = load_engine(args).generate(
        request.settings, request.references, request.init_image, request.control_image, more=request.more
    )
    _print_warnings(result.warnings)
    index = _next_free_index(args.out)
    for offset, (image, seed, parameters) in enumerate(zip(result.images, result.seeds, result.parameters, strict=True)):
        path = save_png(image, args.out / f"{index + offset:05d}-{seed}.png", parameters)
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


def run_tiny_models(args: argparse.Namespace) -> int:
    from .models.tiny import write_tiny_models

    print(write_tiny_models(writable_folder(args.dir, "dir"), seed=args.seed))
    return 0


def run_download(args: argparse.Namespace) -> int:
    from .models.download import run

    return run(args.dir and writable_folder(args.dir, "dir"), args.only, args.dry_run)


def _add_download_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, nargs="?", help="models folder for --models DIR (default: the Hugging Face cache)")
    parser.add_argument("--only", nargs="+", choices=tuple(SPECS_BY_KEY), default=[], metavar="KEY",
                        help=f"components to fetch (default: all): {', '.join(SPECS_BY_KEY)}")  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="list the files and their sizes, fetch nothing")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ipa_demo", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    generate = commands.add_parser("generate", help="text + reference image -> PNGs with their settings inside")
    _add_generation_arguments(generate)
    generate.set_defaults(run=run_generate)
    comparison = commands.add_parser("compare", help="reference-only vs img2img vs IP-Adapter on one seed")
    _add_generation_arguments(comparison)
    comparison.set_defaults(run=run_compare)
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
