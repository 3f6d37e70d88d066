"""The settings of one training run, checked before anything heavy loads.

Like ``GenerationSettings``, an instance that exists is valid; each problem is a ``SettingsError``
naming the flag, which the command line prints as one ``error:`` line (exit status 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..settings import SettingsError

MIXED_PRECISION = ("no", "fp16", "bf16")
# What each base model family trains from scratch: on SDXL ``base`` reads the ViT-bigG encoder's
# image embeds, ``vit-h`` the ViT-H encoder's, ``plus`` ViT-H's hidden states (as h94's files do).
# SD 1.5's light and full-face, and SDXL's plus-face (plus on face crops), continue via --init-from.
TRAINABLE = {"sd15": ("base", "plus"), "sdxl": ("base", "vit-h", "plus")}
VARIANTS = ("base", "vit-h", "plus")
CHECKPOINTS_FOLDER = "checkpoints"


def _require(condition: bool, flag: str, message: str) -> None:
    if not condition:
        raise SettingsError(flag, message)


@dataclass(frozen=True)
class TrainOptions:
    data: Path
    out: Path
    data_root: Path | None = None  # the folder a JSON list's image_file paths are relative to
    models: str | None = None
    base_model: str | None = None  # Hub id, diffusers folder or .safetensors; None: the catalog's SD 1.5
    vae: str | None = None  # Hub id, folder or .safetensors; None: the base model's (SDXL in float16: the fp16 fix)
    variant: str | None = None  # None: base, or whatever --init-from holds
    init_from: Path | None = None
    resolution: int | None = None  # None: the size the base model was trained at (512 SD 1.5, 1024 SDXL)
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 1e-4
    weight_decay: float = 1e-2
    max_grad_norm: float = 1.0  # 0: no clipping
    steps: int = 1000
    mixed_precision: str | None = None  # None: what `accelerate launch` was told (its config), else "no"
    drop_text: float = 0.05
    drop_image: float = 0.05
    drop_both: float = 0.05
    save_every: int = 0  # 0: only at the end
    keep_checkpoints: int = 3  # 0: keep all
    resume: str | None = None  # a checkpoint folder, or "latest"
    seed: int = 42
    workers: int = 2
    sample_every: int = 0
    sample_prompts: tuple[str, ...] = ("best quality, high quality",)
    sample_references: tuple[Path, ...] = field(default_factory=tuple)
    sample_steps: int = 20

    def __post_init__(self) -> None:
        _require(self.data.exists(), "--data", f"no such file or folder: {self.data}")
        _require(not self.out.exists() or self.out.is_dir(), "--out", f"{self.out} exists and is not a folder")
        _require(self.data_root is None or self.data_root.is_dir(), "--data-root", f"no such folder: {self.data_root}")
        _require(
            self.variant in (None, *VARIANTS),
            "--variant",
            f"must be one of {', '.join(VARIANTS)}, got {self.variant!r}",
        )
        _require(self.init_from is None or self.init_from.is_file(), "--init-from", f"no such file: {self.init_from}")
        _require(self.resolution is None or (self.resolution >= 64 and self.resolution % 8 == 0), "--resolution",
                 f"must be a multiple of 8 and at least 64, got {self.resolution}")  # fmt: skip
        for flag, value in (("--batch-size", self.batch_size), ("--grad-accum", self.grad_accum), ("--steps", self.steps),
                            ("--sample-steps", self.sample_steps)):  # fmt: skip
            _require(value >= 1, flag, f"must be at least 1, got {value}")
        for flag, value in (("--save-every", self.save_every), ("--keep-checkpoints", self.keep_checkpoints),
                            ("--sample-every", self.sample_every), ("--workers", self.workers)):  # fmt: skip
            _require(value >= 0, flag, f"must be 0 or more, got {value}")
        _require(math.isfinite(self.lr) and self.lr > 0, "--lr", f"must be above 0, got {self.lr}")
        _require(
            math.isfinite(self.weight_decay) and self.weight_decay >= 0,
            "--weight-decay",
            f"must be 0 or more, got {self.weight_decay}",
        )
        _require(math.isfinite(self.max_grad_norm) and self.max_grad_norm >= 0, "--max-grad-norm",
                 f"must be 0 (off) or more, got {self.max_grad_norm}")  # fmt: skip
        _require(self.mixed_precision in (None, *MIXED_PRECISION), "--mixed-precision",
                 f"must be one of {', '.join(MIXED_PRECISION)}, got {self.mixed_precision!r}")  # fmt: skip
        for flag, value in (
            ("--drop-text", self.drop_text),
            ("--drop-image", self.drop_image),
            ("--drop-both", self.drop_both),
        ):
            _require(0.0 <= value <= 1.0, flag, f"must be between 0 and 1, got {value}")
        _require(self.drop_text + self.drop_image + self.drop_both <= 1.0, "--drop-both",
                 "--drop-text + --drop-image + --drop-both must not exceed 1")  # fmt: skip
        _require(0 <= self.seed < 2**31, "--seed", f"must be between 0 and {2**31 - 1}, got {self.seed}")
        if self.sample_every:
            _require(
                bool(self.sample_references),
                "--sample-reference",
                "--sample-every needs at least one --sample-reference",
            )
            _require(bool(self.sample_prompts), "--sample-prompt", "--sample-every needs at least one --sample-prompt")
        for reference in self.sample_references:
            _require(reference.is_file(), "--sample-reference", f"no such file: {reference}")
        if self.resume is not None:
            _require(self.resume_path() is not None, "--resume",
                     f"no checkpoint in {self.checkpoints_dir}" if self.resume == "latest" else f"no such checkpoint folder: {self.resume}")  # fmt: skip

    @property
    def checkpoints_dir(self) -> Path:
        return self.out / CHECKPOINTS_FOLDER

    def resume_path(self) -> Path | None:
        if self.resume is None:
            return None
        if self.resume == "latest":
            found = sorted(path for path in self.checkpoints_dir.glob("step-*") if not path.name.endswith(".partial"))
            return found[-1] if found else None
        path = Path(self.resume)
        return path if path.is_dir() else None


def check_trainable(variant: str, family: str, title: str) -> None:
    """Refuse, naming the flags, a variant the base model's family cannot train from scratch."""
    trainable = TRAINABLE.get(family, ())
    _require(
        variant in trainable,
        "--variant",
        f"{title} trains {', '.join(trainable[:-1])} or {trainable[-1]} from scratch, not {variant!r}"
        + ("; vit-h is an SDXL adapter (--base-model an SDXL model)" if variant == "vit-h" else ""),
    )
