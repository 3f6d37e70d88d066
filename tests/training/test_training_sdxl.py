"""``train`` on the tiny SDXL twin: the adapter it writes is told as SDXL of its variant, and diffusers'
``StableDiffusionXLPipeline`` with ``load_ip_adapter`` of that file gives our engine's image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionXLPipeline
from PIL import Image
from transformers import CLIPVisionConfig

from ipa_demo.cli import main
from ipa_demo.engine import Engine
from ipa_demo.ip_adapter.checkpoint_kind import EncoderOutput, checkpoint_kind
from ipa_demo.ip_adapter.weights import read_checkpoint
from ipa_demo.models.catalog_sdxl import SDXL_BASE, SDXL_IMAGE_ENCODER, SDXL_IP_ENCODERS
from ipa_demo.models.sources import ModelSources
from ipa_demo.settings import GenerationSettings, IPAdapterSettings
from ipa_demo.training.loop import ADAPTER_FILE

from ..training_sets import captioned_folder

PROMPT, STEPS, GUIDANCE, SEED = "a photo of a cat", 3, 6.0, 5
_trained: dict[str, Path] = {}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return captioned_folder(tmp_path_factory.mktemp("sdxl-train") / "d", count=4)


@pytest.fixture(scope="module")
def trained(data: Path, tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory, reference):
    """The adapter ``train`` writes for a variant (each trained once per module), with a preview grid."""
    reference_path = tmp_path_factory.mktemp("sdxl-reference") / "reference.png"
    reference.save(reference_path)

    def train(variant: str) -> Path:
        if variant not in _trained:
            out = tmp_path_factory.mktemp(f"sdxl-{variant}")
            status = main(["train", "--data", str(data), "--out", str(out), "--models", str(tiny_models_dir),
                           "--base-model", SDXL_BASE.repo_id, "--variant", variant, "--steps", "2",
                           "--batch-size", "2", "--lr", "1e-2", "--workers", "1", "--sample-every", "2",
                           "--sample-steps", "2", "--sample-reference", str(reference_path)])  # fmt: skip
            assert status == 0
            with Image.open(out / "samples" / "step-00000002.png") as grid:
                assert grid.size == (64, 64)  # the twin's own size: one prompt, one reference
            _trained[variant] = out / ADAPTER_FILE
        return _trained[variant]

    return train


@pytest.mark.parametrize("variant", ["base", "vit-h", "plus"])
def test_the_trained_file_is_told_as_sdxl_of_its_variant(trained, tiny_models_dir: Path, variant: str) -> None:
    path = trained(variant)
    bigg = CLIPVisionConfig.from_pretrained(ModelSources(tiny_models_dir).local_path(SDXL_IMAGE_ENCODER))
    kind = checkpoint_kind(read_checkpoint(path), path, EncoderOutput.of(bigg))
    assert (kind.family, kind.variant) == ("sdxl", variant)


def diffusers_with(sources: ModelSources, adapter: Path, variant: str) -> StableDiffusionXLPipeline:
    pipe = StableDiffusionXLPipeline.from_pretrained(sources.local_path(SDXL_BASE))
    encoder = sources.local_path(SDXL_IP_ENCODERS[variant])  # a path with "/" is read as is, not under subfolder
    pipe.load_ip_adapter(str(adapter.parent), subfolder="", weight_name=adapter.name, image_encoder_folder=str(encoder))
    for component in pipe.components.values():  # frozen, as the engine loads its modules
        if isinstance(component, torch.nn.Module):
            component.requires_grad_(False)
    return pipe


@pytest.mark.parametrize("variant", ["base", "plus"])
def test_trained_adapter_gives_in_diffusers_what_it_gives_in_the_engine(
    trained, tiny_models_dir: Path, reference, variant: str
) -> None:
    path = trained(variant)
    sources = ModelSources(tiny_models_dir)
    engine = Engine(sources, base_model=SDXL_BASE.repo_id, ip_checkpoint=str(path))

    def ours(scale: float) -> np.ndarray:
        settings = GenerationSettings(PROMPT, seed=SEED, width=64, height=64, steps=STEPS, guidance=GUIDANCE,
                                      scheduler="Euler", ip=IPAdapterSettings(scale=scale, variant=variant))  # fmt: skip
        return engine.generate(settings, [reference]).pixels

    pipe = diffusers_with(sources, path, variant)
    pipe.set_ip_adapter_scale(0.8)
    theirs = pipe(PROMPT, ip_adapter_image=reference, num_inference_steps=STEPS, guidance_scale=GUIDANCE, height=64,
                  width=64, generator=[torch.Generator().manual_seed(SEED)], output_type="np").images  # fmt: skip
    with_adapter = ours(0.8)
    assert np.abs(with_adapter - theirs).max() <= 1e-4
    assert np.abs(with_adapter - ours(0.0)).max() > 1e-3  # the trained adapter reaches the image
