"""Flags of ``python -m ipa_demo train``; nothing heavy is imported until the run starts."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..models.user_flags import BASE_MODEL_ENV, add_vae_argument, default_base_model
from .options import MIXED_PRECISION, VARIANTS, TrainOptions


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True,
                        help="folder of images with same-name .txt captions, a JSON list "
                             '[{"image_file": ..., "text": ...}], a folder with metadata.jsonl, or webdataset .tar shards')  # fmt: skip
    parser.add_argument(
        "--data-root",
        type=Path,
        help="folder the JSON list's image_file paths are relative to (default: the JSON's folder)",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="folder for the adapter, checkpoints, loss.csv, samples"
    )
    parser.add_argument("--models", help="folder laid out like the Hub repos (default: $IPA_MODELS_DIR or the Hub)")
    parser.add_argument("--base-model",
                        help="the model to train for, SD 1.5 or SDXL (told from its UNet): a Hub id, a diffusers folder "
                             f"or one .safetensors checkpoint (default: ${BASE_MODEL_ENV}, else SD 1.5)")  # fmt: skip
    add_vae_argument(parser)
    parser.add_argument("--variant", "--ip-variant", dest="variant", choices=VARIANTS,
                        help="adapter to train from scratch: base or plus; on SDXL base reads the ViT-bigG encoder, "
                             "vit-h and plus ViT-H (default: base, or that of --init-from)")  # fmt: skip
    parser.add_argument("--init-from", type=Path, help="start from this IP-Adapter checkpoint instead of from scratch")
    parser.add_argument(
        "--resolution", type=int,
        help="training images are resized and centre-cropped to this (default: the base model's own, 512 on SD 1.5, "
        "1024 on SDXL)",
    )
    parser.add_argument("--batch-size", type=int, default=8, help="per process (per GPU)")
    parser.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--weight-decay", type=float, default=1e-2)
    parser.add_argument("--max-grad-norm", type=float, default=1.0, help="gradient clipping; 0 turns it off")
    parser.add_argument("--steps", type=int, default=1000, help="optimizer steps in all (a resumed run counts on)")
    parser.add_argument("--mixed-precision", choices=MIXED_PRECISION,
                        help="frozen models in this precision, adapter weights kept in float32 "
                             "(default: the accelerate config's, else no)")  # fmt: skip
    parser.add_argument(
        "--drop-text", type=float, default=0.05, help="fraction of samples trained without their caption"
    )
    parser.add_argument("--drop-image", type=float, default=0.05, help="fraction trained without their image")
    parser.add_argument("--drop-both", type=float, default=0.05, help="fraction trained without either")
    parser.add_argument("--save-every", type=int, default=0, help="checkpoint every N steps (0: only at the end)")
    parser.add_argument("--keep-checkpoints", type=int, default=3, help="how many checkpoints to keep (0: all)")
    parser.add_argument("--resume", help="checkpoint folder to resume from, or 'latest' (newest under OUT/checkpoints)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, default=2, help="threads decoding images")
    parser.add_argument("--sample-every", type=int, default=0, help="write a preview grid every N steps (0: never)")
    parser.add_argument("--sample-prompt", action="append", default=[], help="preview prompt (repeatable)")
    parser.add_argument(
        "--sample-reference", action="append", type=Path, default=[], help="preview reference image (repeatable)"
    )
    parser.add_argument("--sample-steps", type=int, default=20)


def options_from_args(args: argparse.Namespace) -> TrainOptions:
    return TrainOptions(
        data=args.data,
        out=args.out,
        data_root=args.data_root,
        models=args.models,
        base_model=default_base_model(args.base_model or ""),
        vae=args.vae,
        variant=args.variant,
        init_from=args.init_from,
        resolution=args.resolution,
        batch_size=args.batch_size,
        grad_accum=args.grad_accum,
        lr=args.lr,
        weight_decay=args.weight_decay,
        max_grad_norm=args.max_grad_norm,
        steps=args.steps,
        mixed_precision=args.mixed_precision,
        drop_text=args.drop_text,
        drop_image=args.drop_image,
        drop_both=args.drop_both,
        save_every=args.save_every,
        keep_checkpoints=args.keep_checkpoints,
        resume=args.resume,
        seed=args.seed,
        workers=args.workers,
        sample_every=args.sample_every,
        sample_prompts=tuple(args.sample_prompt) or TrainOptions.sample_prompts,
        sample_references=tuple(args.sample_reference),
        sample_steps=args.sample_steps,
    )


def run_train(args: argparse.Namespace) -> int:
    options = options_from_args(args)
    from .loop import train

    train(options)
    return 0
