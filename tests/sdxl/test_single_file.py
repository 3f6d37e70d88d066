"""An SDXL single ``.safetensors`` (A1111/ComfyUI layout) as ``--base-model``: told from its keys, it equals
the SDXL folder it was written from and diffusers' ``StableDiffusionXLPipeline.from_single_file``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionXLPipeline
from safetensors.torch import load_file, save_file

from ipa_demo.engine import Engine
from ipa_demo.errors import ModelLoadError
from ipa_demo.models.catalog_sdxl import SDXL_BASE
from ipa_demo.models.ldm_layout_sdxl import CLIP_L_PREFIX, OPEN_CLIP_PREFIX
from ipa_demo.models.sources import ModelSources
from ipa_demo.models.tiny_sdxl_file import SDXL_SINGLE_FILE
from ipa_demo.settings import GenerationSettings, IPAdapterSettings

TOLERANCE = 1e-4
SETTINGS = GenerationSettings(
    prompt="a photo of a cat", negative_prompt="a dog", seed=4, width=64, height=64, steps=3, guidance=6.0,
    scheduler="Euler", num_images=2, ip=IPAdapterSettings(scale=0.0),
)  # fmt: skip


@pytest.fixture(scope="module")
def single(tiny_models_dir: Path) -> Path:
    return tiny_models_dir / SDXL_SINGLE_FILE


@pytest.fixture(scope="module")
def file_engine(tiny_models_dir: Path, single: Path) -> Engine:
    return Engine(ModelSources(tiny_models_dir), base_model=str(single))


def test_the_file_holds_every_weight_of_the_folder_under_its_own_names(file_engine: Engine, tiny_models_dir) -> None:
    folder = StableDiffusionXLPipeline.from_pretrained(ModelSources(tiny_models_dir).local_path(SDXL_BASE))
    models = file_engine.models
    assert models.two_encoders is not None
    pairs = [(models.unet, folder.unet), (models.vae, folder.vae), *zip(models.two_encoders.encoders,
             (folder.text_encoder, folder.text_encoder_2), strict=True)]  # fmt: skip
    for ours, theirs in pairs:
        expected = theirs.state_dict()
        loaded = ours.state_dict()
        assert loaded.keys() == expected.keys()
        assert all(torch.equal(loaded[name], expected[name]) for name in expected), type(ours).__name__


def test_an_sdxl_file_equals_its_folder_and_diffusers_from_single_file(
    file_engine: Engine, single: Path, tiny_models_dir: Path
) -> None:
    folder = ModelSources(tiny_models_dir).local_path(SDXL_BASE)
    ours = file_engine.generate(SETTINGS).pixels
    folder_engine = Engine(ModelSources(tiny_models_dir), base_model=str(folder))
    _fresh_memory(folder_engine.models.two_encoders.encoders[1])
    from_folder = folder_engine.generate(SETTINGS).pixels
    assert np.abs(ours - from_folder).max() <= TOLERANCE
    pipe = StableDiffusionXLPipeline.from_single_file(str(single), config=str(folder), local_files_only=True)
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            component.requires_grad_(False)  # as the engine loads its own (see tests/sdxl/test_engine_sdxl.py)
    theirs = pipe(
        SETTINGS.prompt, negative_prompt=SETTINGS.negative_prompt, num_inference_steps=3, guidance_scale=6.0,
        height=64, width=64, num_images_per_prompt=2, output_type="np",
        generator=[torch.Generator().manual_seed(seed) for seed in SETTINGS.image_seeds],
    ).images  # fmt: skip
    assert np.abs(ours - theirs).max() <= TOLERANCE
    assert file_engine.models.architecture.family == "sdxl"
    assert file_engine.base_model.name == single.stem and file_engine.base_model.hash is not None


def _fresh_memory(module: torch.nn.Module) -> None:
    """The same weights in freshly allocated memory, as the single-file loader's are.

    A folder's weights are read from memory-mapped safetensors at addresses 8 bytes past a 64-byte
    boundary; the CPU's matrix product rounds the second encoder's 24x16 projection differently there
    (1.2e-7 on the pooled text, measured), which the tiny twin's responsive UNet grows to 5e-2 in
    three steps. Copied to fresh memory, the folder's weights give the file's output.
    """
    for parameter in module.parameters():
        parameter.data = parameter.data.clone()


def test_an_sdxl_file_is_offered_beside_sd15_models(tiny_models_dir: Path, single: Path) -> None:
    """The page and API offer the server's base models by name: an SD 1.5 default and the SDXL file."""
    engine = Engine(ModelSources(tiny_models_dir), base_model_options=[str(single)])
    assert engine.base_models.names == ("stable-diffusion-v1-5", single.stem)
    with engine.serving(GenerationSettings(prompt="a cat", base_model=single.stem)):
        assert engine.models.architecture.family == "sdxl"
    assert engine.models.architecture.family == "sd15"


def _without(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {key: value for key, value in state.items() if not key.startswith(prefix)}


@pytest.mark.parametrize(
    ("change", "found"),
    [
        (lambda state: _without(state, "model.diffusion_model."), r"an SDXL checkpoint without the UNet \(model"),
        (lambda state: {key.replace(OPEN_CLIP_PREFIX, "conditioner.embedders.0.model."): value
                        for key, value in _without(state, CLIP_L_PREFIX).items()}, "an SDXL refiner checkpoint"),
        (lambda state: _without(state, OPEN_CLIP_PREFIX), r"an SDXL checkpoint without OpenCLIP bigG \(conditioner"),
    ],
)  # fmt: skip
def test_a_file_that_is_not_a_whole_sdxl_checkpoint_is_refused_naming_the_flag_and_what_it_is(
    tmp_path: Path, tiny_models_dir: Path, single: Path, change, found: str
) -> None:
    path = tmp_path / "model.safetensors"
    save_file(change(load_file(str(single))), str(path))
    with pytest.raises(ModelLoadError, match=f"--base-model {path} is not an SD 1.5 or SDXL checkpoint: it looks like {found}"):
        Engine(ModelSources(tiny_models_dir), base_model=str(path))


def test_an_sdxl_file_of_other_widths_is_refused_naming_the_flag(tmp_path: Path, tiny_models_dir: Path, single: Path) -> None:
    state = load_file(str(single))
    wide = {key: torch.zeros(value.shape[0], 2048) if key.endswith("attn2.to_k.weight") else value
            for key, value in state.items()}  # fmt: skip
    save_file(wide, str(tmp_path / "real-width.safetensors"))
    with pytest.raises(ModelLoadError, match="--base-model .*text of width 2048, SDXL's to 40: not an SDXL checkpoint"):
        Engine(ModelSources(tiny_models_dir), base_model=str(tmp_path / "real-width.safetensors"))
