"""Training end to end on the tiny model set: it learns, resumes exactly, splits exactly over
processes, touches nothing frozen, and its checkpoint gives diffusers' image."""

from __future__ import annotations

import csv
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from ipa_demo.cli import main
from ipa_demo.engine import Engine
from ipa_demo.models.catalog import IMAGE_ENCODER, IP_ADAPTERS, SD15
from ipa_demo.models.loading import load_image_encoder, load_stable_diffusion
from ipa_demo.models.sources import ModelSources
from ipa_demo.settings import GenerationSettings, IPAdapterSettings
from ipa_demo.training import loop as training_loop
from ipa_demo.training.loop import ADAPTER_FILE, LOSS_LOG, TrainResult, train
from ipa_demo.training.options import TrainOptions

from ..reference_pipelines import ReferencePipeline
from ..training_sets import captioned_folder

REPO = Path(__file__).resolve().parents[2]


def max_difference(first: Path, second: Path) -> float:
    a, b = load_file(first), load_file(second)
    assert a.keys() == b.keys()
    return max((a[key] - b[key]).abs().max().item() for key in a)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return captioned_folder(tmp_path_factory.mktemp("train-data") / "d", count=8)


@pytest.fixture(scope="module")
def options(data: Path, tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainOptions:
    out = tmp_path_factory.mktemp("train-run")
    return TrainOptions(data=data, out=out, models=str(tiny_models_dir), resolution=64, batch_size=4, steps=50,
                        lr=1e-2, save_every=25, seed=0, workers=1)  # fmt: skip


@pytest.fixture(scope="module")
def run(options: TrainOptions) -> TrainResult:
    return train(options)


def test_fifty_steps_lower_the_loss(run: TrainResult, options: TrainOptions) -> None:
    assert len(run.losses) == 50
    assert statistics.mean(run.losses[-10:]) < statistics.mean(run.losses[:10])
    with (options.out / LOSS_LOG).open() as file:
        rows = list(csv.DictReader(file))
    assert [int(row["step"]) for row in rows] == list(range(1, 51))
    assert all(float(row["samples_per_s"]) > 0 for row in rows)


def test_only_the_adapter_trains(run: TrainResult, tiny_models_dir: Path) -> None:
    assert run.optimized_parameters == run.trainable_parameters == 24_256  # tiny base: projection + 16 K'/V' pairs
    sources = ModelSources(tiny_models_dir)
    fresh = load_stable_diffusion(sources.resolve(SD15), "cpu", torch.float32)
    before = {"unet": fresh.unet, "vae": fresh.vae, "text_encoder": fresh.text_encoder,
              "image_encoder": load_image_encoder(sources.resolve(IMAGE_ENCODER), "cpu", torch.float32)}  # fmt: skip
    for name, module in run.frozen.items():
        assert not module.training and not any(parameter.requires_grad for parameter in module.parameters()), name
        after = module.state_dict()
        for key, tensor in before[name].state_dict().items():
            assert torch.equal(after[key], tensor), f"{name}.{key} changed"


def test_resumed_run_ends_where_the_uninterrupted_one_does(
    run: TrainResult, options: TrainOptions, tmp_path: Path
) -> None:
    checkpoint = options.checkpoints_dir / "step-00000025"
    resumed = train(replace(options, out=tmp_path, resume=str(checkpoint)))
    assert max_difference(resumed.adapter_path, run.adapter_path) <= 1e-6
    assert np.allclose(resumed.losses, run.losses[25:], atol=1e-6)
    # The interrupted run's steps are not lost from its log: resuming 'latest' in place keeps them.
    again = train(replace(options, resume="latest", steps=52))
    with (options.out / LOSS_LOG).open() as file:
        assert [int(row["step"]) for row in csv.DictReader(file)] == list(range(1, 53))
    assert len(again.losses) == 2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_processes_train_as_one_with_twice_the_batch(tiny_models_dir: Path, tmp_path: Path) -> None:
    """A real gloo process group via accelerate launch; bad items in the data exercise zero weights."""
    data = captioned_folder(tmp_path / "data", count=6, broken=True)
    common = ["--data", str(data), "--models", str(tiny_models_dir), "--resolution", "64", "--grad-accum", "2",
              "--steps", "3", "--lr", "1e-4", "--seed", "3", "--workers", "1"]  # fmt: skip
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
              "--main_process_port", str(free_port())]  # fmt: skip
    two = subprocess.run([*launch, "-m", "ipa_demo", "train", *common, "--batch-size", "2", "--out", str(tmp_path / "two")],
                         env=env, cwd=REPO, capture_output=True, text=True, timeout=240, check=False)  # fmt: skip
    assert two.returncode == 0, two.stderr[-3000:]
    assert "2 process(es), global batch 8" in two.stdout
    one = main(["train", *common, "--batch-size", "4", "--out", str(tmp_path / "one")])
    assert one == 0
    assert max_difference(tmp_path / "one" / ADAPTER_FILE, tmp_path / "two" / ADAPTER_FILE) <= 1e-5
    assert (
        max_difference(tmp_path / "one" / ADAPTER_FILE, tmp_path / "one/checkpoints/step-00000003" / ADAPTER_FILE) == 0
    )


def models_with_adapter(tiny_models_dir: Path, variant: str, adapter: Path, folder: Path) -> Path:
    """The tiny set (linked, not copied) with ``adapter`` in place of the published checkpoint."""
    shutil.copytree(tiny_models_dir, folder, copy_function=os.symlink)
    target = ModelSources(folder).local_path(IP_ADAPTERS[variant])
    target.unlink()
    shutil.copyfile(adapter, target)
    return folder


def assert_diffusers_parity(models_dir: Path, variant: str, reference) -> None:
    settings = GenerationSettings(prompt="a photo of a cat", negative_prompt="blurry", seed=1234, width=64, height=64,
                                  steps=4, guidance=6.0, scheduler="Euler a", ip=IPAdapterSettings(scale=0.8, variant=variant))  # fmt: skip
    ours = Engine(ModelSources(models_dir)).generate(settings, [reference]).pixels
    pipe = ReferencePipeline.load(models_dir, variant)
    assert np.abs(ours - pipe.run(settings, ip_scale=0.8, reference=reference)).max() <= 1e-4
    assert np.abs(ours - pipe.run(settings, ip_scale=0.0, reference=reference)).max() > 0.01


def test_trained_checkpoint_gives_diffusers_image(
    run: TrainResult, tiny_models_dir: Path, tmp_path: Path, reference
) -> None:
    assert_diffusers_parity(
        models_with_adapter(tiny_models_dir, "base", run.adapter_path, tmp_path / "m"), "base", reference
    )


def test_plus_trains_from_a_checkpoint_with_samples(
    options: TrainOptions, tiny_models_dir: Path, tmp_path: Path, reference
) -> None:
    reference_path = tmp_path / "reference.png"
    reference.save(reference_path)
    plus = ModelSources(tiny_models_dir).local_path(IP_ADAPTERS["plus"])
    result = train(replace(options, out=tmp_path / "out", init_from=plus, steps=2, save_every=1, keep_checkpoints=1,
                           sample_every=2, sample_steps=2, sample_prompts=("a cat", "a dog"),
                           sample_references=(reference_path,)))  # fmt: skip
    assert [path.name for path in (tmp_path / "out" / "checkpoints").iterdir()] == ["step-00000002"]
    with Image.open(tmp_path / "out" / "samples" / "step-00000002.png") as grid:
        assert grid.size == (2 * 64, 64)  # prompts across, references down
    assert max_difference(result.adapter_path, plus) > 0  # it moved from where it started
    assert_diffusers_parity(
        models_with_adapter(tiny_models_dir, "plus", result.adapter_path, tmp_path / "m"), "plus", reference
    )


def test_bf16_keeps_frozen_models_in_bf16_and_the_adapter_in_float32(options: TrainOptions, tmp_path: Path) -> None:
    result = train(replace(options, out=tmp_path, steps=2, mixed_precision="bf16", save_every=0))
    assert all(parameter.dtype == torch.bfloat16 for parameter in result.frozen["unet"].parameters())
    assert all(np.isfinite(result.losses))
    assert {tensor.dtype for tensor in load_file(result.adapter_path).values()} == {torch.float32}


def test_the_shipped_zero2_config_is_deepspeed_stage_2() -> None:
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(REPO / "configs" / "accelerate" / "zero2.yaml"))
    assert str(config.distributed_type) == "DistributedType.DEEPSPEED"
    assert config.deepspeed_config["zero_stage"] == 2
    # Left to the command's flags, so accelerate cannot take a second, disagreeing value from the file.
    assert "gradient_accumulation_steps" not in config.deepspeed_config


class _Process:
    """One of two processes for ``_save_checkpoint``: a barrier for ``wait_for_everyone``; the second
    process writes its random states a moment later than the first, as a busy rank does."""

    def __init__(self, index: int, barrier: threading.Barrier) -> None:
        self.index, self.is_main_process, self.barrier = index, index == 0, barrier

    def wait_for_everyone(self) -> None:
        self.barrier.wait(timeout=30)

    def save_state(self, folder: str) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        time.sleep(0.5 * self.index)
        (Path(folder) / f"random_states_{self.index}.pkl").write_bytes(b"state")

    def unwrap_model(self, model: object) -> object:
        return model


def test_a_checkpoint_is_renamed_only_after_every_process_wrote_its_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first process renamed the checkpoint's folder while the second still wrote into it: the second
    then failed ("Parent directory step-00000003.partial does not exist"), in a clean CI run."""
    monkeypatch.setattr(training_loop, "save_adapter", lambda adapter, unet, path: path.write_bytes(b"adapter"))
    options = SimpleNamespace(checkpoints_dir=tmp_path / "checkpoints", keep_checkpoints=0)
    barrier, failures = threading.Barrier(2), []

    def run(index: int) -> None:
        try:
            model = SimpleNamespace(adapter=None)
            training_loop._save_checkpoint(_Process(index, barrier), model, None, options, 3)  # type: ignore[arg-type]
        except Exception as error:  # noqa: BLE001 (the failure is what the test reports)
            failures.append(f"process {index}: {error!r}")
            barrier.abort()

    threads = [threading.Thread(target=run, args=(index,)) for index in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    folder = options.checkpoints_dir / "step-00000003"
    assert sorted(path.name for path in folder.iterdir()) == [ADAPTER_FILE, "random_states_0.pkl", "random_states_1.pkl"]
