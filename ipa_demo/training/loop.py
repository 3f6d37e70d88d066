"""The training loop on Hugging Face accelerate: one CPU, one GPU, or ``accelerate launch`` over many
(DDP, or DeepSpeed ZeRO-2 from ``configs/accelerate/zero2.yaml``), with the same code.

Output folder:
    ip_adapter.safetensors              the trained adapter, official layout (written at the end)
    checkpoints/step-NNNNNNNN/          accelerate state (adapter, optimizer, progress) + ip_adapter.safetensors
    loss.csv                            step, loss, lr, samples/s, seconds
    samples/step-NNNNNNNN.png           preview grids (with --sample-every)
"""

from __future__ import annotations

import csv
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType
from tqdm.auto import tqdm

from ..ip_adapter.image_encoder import ImageEncoder
from ..models.loading import StableDiffusionModels
from ..runtime import quiet_library_output
from ..settings import SettingsError
from .adapter import save_adapter, trainable_parameters
from .data import UNREADABLE, Batch, BatchReader, describe_skipped, open_source
from .objective import (
    AdapterTraining,
    DropRates,
    FrozenEncoders,
    batch_loss,
    draw_for_samples,
    per_sample_loss,
)
from .models import load_training_models
from .options import TrainOptions
from .samples import SampleGrid

ADAPTER_FILE = "ip_adapter.safetensors"
LOSS_LOG = "loss.csv"
PRECISION = {"no": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass
class Progress:
    """What a resumed run needs besides weights and optimizer: saved by accelerate's save_state."""

    step: int = 0
    records_read: int = 0  # position in the data stream, so a resumed run reads on from there

    def state_dict(self) -> dict[str, int]:
        return {"step": self.step, "records_read": self.records_read}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.step, self.records_read = int(state["step"]), int(state["records_read"])


@dataclass
class TrainResult:
    adapter_path: Path
    steps: int
    losses: list[float] = field(default_factory=list)  # this run's steps, mean over the global batch
    trainable_parameters: int = 0
    optimized_parameters: int = 0  # what the optimizer holds: must equal the above
    skipped: Counter[str] = field(default_factory=Counter)
    frozen: dict[str, torch.nn.Module] = field(default_factory=dict)  # the models that must not change


class LossLog:
    """loss.csv, kept consistent with the checkpoint a run resumes from."""

    FIELDS = ("step", "loss", "lr", "samples_per_s", "seconds")

    def __init__(self, path: Path, resumed_step: int) -> None:
        rows = []
        if resumed_step and path.exists():
            with path.open(newline="") as file:
                rows = [row for row in csv.DictReader(file) if int(row["step"]) <= resumed_step]
        self._file = path.open("w", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=self.FIELDS)
        self._writer.writeheader()
        self._writer.writerows(rows)

    def write(self, **row: Any) -> None:
        self._writer.writerow(row)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _has_accelerator() -> bool:
    probe = getattr(torch, "accelerator", None)  # torch >= 2.6: CUDA, XPU, MPS, ...
    return probe.is_available() if probe is not None else torch.cuda.is_available()


def _configure_deepspeed(accelerator: Accelerator, options: TrainOptions) -> None:
    """DeepSpeed sizes its buffers from the micro-batch, which it cannot read from our own reader."""
    if accelerator.distributed_type != DistributedType.DEEPSPEED:
        return
    config = accelerator.state.deepspeed_plugin.deepspeed_config
    config["train_micro_batch_size_per_gpu"] = options.batch_size
    if config.get("gradient_clipping", "auto") == "auto":
        config["gradient_clipping"] = options.max_grad_norm


@dataclass
class _OptimizerStep:
    """One optimizer step: ``grad_accum`` micro-batches, then the (synchronised) update."""

    accelerator: Accelerator
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    frozen: FrozenEncoders
    options: TrainOptions
    latent_shape: tuple[int, int, int]

    @torch.enable_grad()  # whatever a caller set process-wide (a benchmark turns grad off for good)
    def __call__(self, batches: Iterator[Batch]) -> float:
        """Returns the loss averaged over the valid samples of the global batch (all processes)."""
        accelerator, options = self.accelerator, self.options
        drops = DropRates(text=options.drop_text, image=options.drop_image, both=options.drop_both)
        num_timesteps = self.frozen.noise_scheduler.config.num_train_timesteps
        totals = torch.zeros(2, device=accelerator.device)  # weighted loss sum, valid samples
        for _ in range(options.grad_accum):
            batch = next(batches)
            draws = draw_for_samples(batch.indices, options.seed, self.latent_shape, num_timesteps, drops)
            inputs = self.frozen.prepare(batch, draws)
            with accelerator.accumulate(self.model):
                prediction = self.model(
                    inputs.noisy_latents, inputs.timesteps, inputs.text, inputs.image_encodings, inputs.added
                )
                losses = per_sample_loss(prediction, inputs.target)
                accelerator.backward(batch_loss(losses, batch.weights))
                if accelerator.sync_gradients and options.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(self.model.parameters(), options.max_grad_norm)
                self.optimizer.step()  # accelerate skips these until the last micro-batch
                self.optimizer.zero_grad()
            weights = batch.weights.to(accelerator.device)
            totals += torch.stack([(losses.detach() * weights).sum(), weights.sum()])
        totals = accelerator.reduce(totals, reduction="sum")
        return (totals[0] / totals[1].clamp(min=1)).item()


def train(options: TrainOptions) -> TrainResult:
    source = open_source(options.data, options.data_root, options.seed)  # bad data fails before models load
    accelerator = Accelerator(
        mixed_precision=options.mixed_precision,
        gradient_accumulation_steps=options.grad_accum,
        # Without this, processes launched on a machine with no accelerator would each train alone
        # instead of joining one gloo process group (accelerate's MULTI_CPU).
        cpu=not _has_accelerator(),
    )
    main = accelerator.is_main_process
    if accelerator.mixed_precision == "fp16" and accelerator.device.type == "cpu":
        raise SettingsError("--mixed-precision", "fp16 needs a GPU; use bf16 or no on the CPU")
    quiet_library_output()
    dtype = PRECISION[accelerator.mixed_precision]
    loaded = load_training_models(options, accelerator.device, dtype)
    models, clip_vision, adapter, resolution = loaded.models, loaded.image_encoder, loaded.adapter, loaded.resolution
    image_encoder = ImageEncoder(clip_vision, accelerator.device)
    frozen = FrozenEncoders(models, clip_vision, adapter.uses_hidden_states)
    reader = BatchReader(
        source,
        options.batch_size,
        resolution,
        lambda image: image_encoder.processor(image, return_tensors="pt").pixel_values[0],
        clip_vision.config.image_size,
        accelerator.num_processes,
        accelerator.process_index,
        options.workers,
    )
    optimizer = torch.optim.AdamW(adapter.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    _configure_deepspeed(accelerator, options)
    training = AdapterTraining(adapter, models.unet, modules=len(loaded.architecture.modules))
    model, optimizer = accelerator.prepare(training, optimizer)
    progress = Progress()
    accelerator.register_for_checkpointing(progress)
    resume = options.resume_path()
    if resume is not None:
        accelerator.load_state(str(resume))

    grid = None
    if options.sample_every and main:
        grid = SampleGrid(models, image_encoder, options.sample_prompts, options.sample_references,
                          resolution, options.sample_steps, options.seed)  # fmt: skip
    options.out.mkdir(parents=True, exist_ok=True)
    log = LossLog(options.out / LOSS_LOG, progress.step) if main else None
    result = TrainResult(
        options.out / ADAPTER_FILE,
        options.steps,
        trainable_parameters=trainable_parameters(adapter),
        optimized_parameters=sum(p.numel() for group in optimizer.param_groups for p in group["params"]),
        frozen={
            "unet": models.unet,
            "vae": models.vae,
            **dict(zip(loaded.architecture.text_encoders, _text_encoders(models), strict=True)),
            "image_encoder": clip_vision,
        },
    )
    samples_per_step = reader.global_batch * options.grad_accum
    if main:
        print(f"training a {loaded.architecture.title} {loaded.variant} IP-Adapter ({result.trainable_parameters:,} "
              f"trainable parameters) at {resolution} px on {source.description}; {accelerator.num_processes} "
              f"process(es), global batch {samples_per_step}", flush=True)  # fmt: skip

    step = _OptimizerStep(accelerator, model, optimizer, frozen, options, frozen.latent_shape(resolution))
    batches = reader.batches(start_record=progress.records_read)
    bar = tqdm(total=options.steps, initial=progress.step, disable=not main, desc="train", unit="step")
    started = time.perf_counter()
    try:
        while progress.step < options.steps:
            step_started = time.perf_counter()
            loss = step(batches)
            progress.step += 1
            progress.records_read += samples_per_step
            result.losses.append(loss)
            rate = samples_per_step / (time.perf_counter() - step_started)
            if log is not None:
                log.write(step=progress.step, loss=f"{loss:.6f}", lr=options.lr, samples_per_s=f"{rate:.3f}",
                          seconds=f"{time.perf_counter() - started:.2f}")  # fmt: skip
            bar.set_postfix(loss=f"{loss:.4f}", samples_s=f"{rate:.2f}")
            bar.update(1)
            if grid is not None and progress.step % options.sample_every == 0:
                path = options.out / "samples" / f"{_step_name(progress.step)}.png"
                path.parent.mkdir(exist_ok=True)
                grid.render(accelerator.unwrap_model(model).adapter).save(path)
            if options.save_every and progress.step % options.save_every == 0 and progress.step < options.steps:
                _save_checkpoint(accelerator, model, models.unet, options, progress.step)
        _save_checkpoint(accelerator, model, models.unet, options, progress.step)
        if main:
            shutil.copyfile(options.checkpoints_dir / _step_name(progress.step) / ADAPTER_FILE, result.adapter_path)
    finally:
        batches.close()
        bar.close()
        reader.close()
        if log is not None:
            log.close()
    result.skipped = _skipped(accelerator, source.skipped, reader.unreadable)
    if main:
        print(f"adapter written to {result.adapter_path}{describe_skipped(result.skipped)}", flush=True)
    accelerator.end_training()
    if torch.distributed.is_initialized():  # left to interpreter exit, gloo's threads can abort the process
        torch.distributed.destroy_process_group()
    return result


def _text_encoders(models: StableDiffusionModels) -> tuple[torch.nn.Module, ...]:
    return (models.text_encoder,) if models.two_encoders is None else models.two_encoders.encoders


def _step_name(step: int) -> str:
    return f"step-{step:08d}"


def _save_checkpoint(
    accelerator: Accelerator, model: torch.nn.Module, unet: torch.nn.Module, options: TrainOptions, step: int
) -> None:
    """Full resumable state plus the adapter file; written under a temporary name, then renamed, so
    that ``--resume latest`` never picks a checkpoint a killed run left half-written."""
    final = options.checkpoints_dir / _step_name(step)
    partial = final.with_name(final.name + ".partial")
    if accelerator.is_main_process:
        shutil.rmtree(partial, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(partial))  # every process: DeepSpeed writes its own optimizer shard
    # Each process also writes its random states there: the folder is renamed only once all have.
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        save_adapter(accelerator.unwrap_model(model).adapter, unet, partial / ADAPTER_FILE)
        shutil.rmtree(final, ignore_errors=True)
        partial.rename(final)
        _prune(options)
    accelerator.wait_for_everyone()


def _prune(options: TrainOptions) -> None:
    if not options.keep_checkpoints:
        return
    kept = sorted(path for path in options.checkpoints_dir.glob("step-*") if not path.name.endswith(".partial"))
    for old in kept[: -options.keep_checkpoints]:
        shutil.rmtree(old, ignore_errors=True)


def _skipped(accelerator: Accelerator, listed: Counter[str], unreadable: set[str]) -> Counter[str]:
    """Listing-time skips are the same on every process; undecodable images are summed over them."""
    found = torch.tensor([len(unreadable)], device=accelerator.device)
    total = int(accelerator.reduce(found, reduction="sum").item())
    skipped = Counter(listed)
    if total:
        skipped[UNREADABLE] += total
    return skipped
