"""--base-model and --vae: a single file ≡ its folder ≡ diffusers' from_single_file; clear refusals."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKL, StableDiffusionPipeline
from PIL import Image, ImageDraw
from safetensors.torch import load_file, save_file

from ipa_demo.engine import Engine
from ipa_demo.errors import MissingModelError, ModelLoadError
from ipa_demo.models.catalog import SD15
from ipa_demo.models.catalog_sdxl import SDXL_BASE, SDXL_INPAINTING_UNET
from ipa_demo.models.single_file import short_hash
from ipa_demo.models.sources import ModelSources
from ipa_demo.models.tiny_user import SINGLE_FILE, VAE_FILE
from ipa_demo.settings import GenerationSettings, IPAdapterSettings

from ..helpers import noise_image
from ..reference_pipelines import ReferencePipeline

TOLERANCE = 1e-4
SETTINGS = GenerationSettings(
    prompt="a photo of a cat", negative_prompt="blurry", seed=7, width=64, height=64, steps=4,
    scheduler="Euler a", num_images=2, ip=IPAdapterSettings(scale=0.0),
)  # fmt: skip


def sd15(models_dir: Path) -> Path:
    return models_dir / "stable-diffusion-v1-5"


@pytest.fixture(scope="module")
def file_engine(tiny_models_dir: Path) -> Engine:
    return Engine(ModelSources(tiny_models_dir), base_model=str(tiny_models_dir / SINGLE_FILE))


def test_a_single_file_equals_its_folder_and_diffusers_from_single_file(
    engine: Engine, file_engine: Engine, tiny_models_dir: Path
) -> None:
    from_file = file_engine.generate(SETTINGS).pixels
    from_folder = engine.generate(SETTINGS).pixels
    assert np.abs(from_file - from_folder).max() <= TOLERANCE
    pipe = StableDiffusionPipeline.from_single_file(
        str(tiny_models_dir / SINGLE_FILE), config=str(sd15(tiny_models_dir)), local_files_only=True,
        safety_checker=None, requires_safety_checker=False,
    )  # fmt: skip
    theirs = ReferencePipeline(pipe, pipe.scheduler.config).run(SETTINGS)
    assert np.abs(from_file - theirs).max() <= TOLERANCE
    assert from_file.std() > 0.01  # a real image, not a constant that anything would equal


def test_the_model_is_named_and_hashed_as_a1111_does(
    file_engine: Engine, engine: Engine, tiny_models_dir: Path
) -> None:
    import hashlib

    path = tiny_models_dir / SINGLE_FILE
    assert file_engine.base_model.name == "tiny-sd15"
    assert file_engine.base_model.hash == hashlib.sha256(path.read_bytes()).hexdigest()[:10] == short_hash(path)
    assert engine.base_model.name == "stable-diffusion-v1-5" and engine.base_model.hash is None


def test_a_folder_given_as_base_model_equals_the_default(engine: Engine, tiny_models_dir: Path) -> None:
    folder = Engine(ModelSources(tiny_models_dir), base_model=str(sd15(tiny_models_dir)))
    assert np.abs(folder.generate(SETTINGS).pixels - engine.generate(SETTINGS).pixels).max() == 0.0


def test_a_hub_id_resolves_under_the_models_folder_by_repo_name(tiny_models_dir: Path) -> None:
    engine = Engine(ModelSources(tiny_models_dir), base_model="someone/stable-diffusion-v1-5")
    assert engine.base_model.path == sd15(tiny_models_dir)
    with pytest.raises(MissingModelError, match="someone/not-here: expected the folder"):
        Engine(ModelSources(tiny_models_dir), base_model="someone/not-here")
    with pytest.raises(MissingModelError, match="neither an existing file or folder nor a Hub id"):
        Engine(ModelSources(tiny_models_dir), base_model="no such thing")


def test_a_vae_file_replaces_the_vae_as_diffusers_does(engine: Engine, tiny_models_dir: Path) -> None:
    with_vae = Engine(ModelSources(tiny_models_dir), vae=str(tiny_models_dir / VAE_FILE))
    ours = with_vae.generate(SETTINGS).pixels
    vae = AutoencoderKL.from_single_file(
        str(tiny_models_dir / VAE_FILE), config=str(sd15(tiny_models_dir)), subfolder="vae", local_files_only=True
    )
    pipe = StableDiffusionPipeline.from_pretrained(sd15(tiny_models_dir), vae=vae, safety_checker=None)
    theirs = ReferencePipeline(pipe, pipe.scheduler.config).run(SETTINGS)
    assert np.abs(ours - theirs).max() <= TOLERANCE
    assert np.abs(ours - engine.generate(SETTINGS).pixels).max() > 0.01, "another VAE must change the image"
    assert with_vae.vae is not None and with_vae.vae.name == "tiny-vae"


def test_a_vae_folder_that_is_the_models_own_changes_nothing(engine: Engine, tiny_models_dir: Path) -> None:
    for folder in (sd15(tiny_models_dir) / "vae", sd15(tiny_models_dir)):  # the VAE folder, or a repo with vae/
        with_vae = Engine(ModelSources(tiny_models_dir), vae=str(folder))
        assert np.abs(with_vae.generate(SETTINGS).pixels - engine.generate(SETTINGS).pixels).max() == 0.0


@pytest.mark.parametrize(
    ("keys", "found"),
    [
        ({"conditioner.embedders.1.model.ln_final.weight": (4,)}, "an SDXL checkpoint without the UNet"),
        ({"cond_stage_model.model.ln_final.weight": (4,), "model.diffusion_model.input_blocks.0.0.weight": (8, 4, 3, 3)},
         "an SD2.x checkpoint"),
        ({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": (2, 8)}, "a LoRA"),
        ({"encoder.conv_in.weight": (8, 3, 3, 3)}, "a VAE alone"),
        ({"image_proj.proj.weight": (4, 4)}, "an IP-Adapter"),
        ({"something.else": (1,)}, "an unknown layout"),
    ],
)  # fmt: skip
def test_a_file_that_is_not_sd15_is_refused_naming_what_it_is(
    tmp_path: Path, tiny_models_dir: Path, keys: dict[str, tuple[int, ...]], found: str
) -> None:
    path = tmp_path / "model.safetensors"
    save_file({key: torch.zeros(shape) for key, shape in keys.items()}, str(path))
    with pytest.raises(ModelLoadError, match=f"--base-model {path} is not an SD 1.5 or SDXL checkpoint: it looks like {found}"):
        Engine(ModelSources(tiny_models_dir), base_model=str(path))


def test_an_sdxl_folder_loads_with_both_text_encoders(tiny_models_dir: Path) -> None:
    """Refused at start before the engine ran SDXL; now it loads as SDXL, told from its UNet, not from a flag."""
    models = Engine(ModelSources(tiny_models_dir), base_model="stabilityai/stable-diffusion-xl-base-1.0").models
    assert models.architecture.family == "sdxl" and len(models.architecture.modules) == 11
    assert models.two_encoders is not None and models.text_encoder is models.two_encoders.encoders[0]
    assert models.architecture.text_encoders == ("text_encoder", "text_encoder_2")


def test_a_checkpoint_of_another_text_width_or_an_8_channel_unet_is_refused(
    tmp_path: Path, tiny_models_dir: Path
) -> None:
    state = load_file(str(tiny_models_dir / SINGLE_FILE))
    key = "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"
    wide = dict(state, **{key: torch.zeros(state[key].shape[0], 1024)})
    save_file(wide, str(tmp_path / "wide.safetensors"))
    with pytest.raises(ModelLoadError, match="text of width 1024, SD1.5's to 32"):
        Engine(ModelSources(tiny_models_dir), base_model=str(tmp_path / "wide.safetensors"))
    conv_in = "model.diffusion_model.input_blocks.0.0.weight"
    pix2pix = dict(state, **{conv_in: torch.zeros(state[conv_in].shape[0], 8, 3, 3)})
    save_file(pix2pix, str(tmp_path / "pix2pix.safetensors"))
    with pytest.raises(ModelLoadError, match="instruct-pix2pix"):
        Engine(ModelSources(tiny_models_dir), base_model=str(tmp_path / "pix2pix.safetensors"))


def test_a_pickle_checkpoint_or_a_lora_as_vae_is_refused(tmp_path: Path, tiny_models_dir: Path) -> None:
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"not read")
    with pytest.raises(ModelLoadError, match="only .safetensors"):
        Engine(ModelSources(tiny_models_dir), base_model=str(ckpt))
    lora = tmp_path / "lora.safetensors"
    save_file({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": torch.zeros(2, 8)}, str(lora))
    with pytest.raises(ModelLoadError, match="is not a VAE: it looks like a LoRA"):
        Engine(ModelSources(tiny_models_dir), vae=str(lora))


def test_each_request_runs_on_its_own_base_model_and_the_least_recent_is_released(
    engine: Engine, file_engine: Engine, tiny_models_dir: Path
) -> None:
    import gc
    import weakref

    single = str(tiny_models_dir / SINGLE_FILE)
    both = Engine(ModelSources(tiny_models_dir), vae=str(tiny_models_dir / VAE_FILE), base_model_options=[single],
                  keep_base_models=1)  # fmt: skip
    assert both.base_models.names == ("stable-diffusion-v1-5", "tiny-sd15")
    with_vae = Engine(ModelSources(tiny_models_dir), vae=str(tiny_models_dir / VAE_FILE)).generate(SETTINGS).pixels
    first_unet = weakref.ref(both.models.unet)
    by_name = both.generate(replace(SETTINGS, base_model="tiny-sd15"))
    file_with_vae = Engine(ModelSources(tiny_models_dir), base_model=single, vae=str(tiny_models_dir / VAE_FILE))
    assert np.abs(by_name.pixels - file_with_vae.generate(SETTINGS).pixels).max() == 0.0
    assert "Model: tiny-sd15" in by_name.parameters[0] and "VAE: tiny-vae" in by_name.parameters[0]
    gc.collect()
    assert first_unet() is None, "with keep_base_models=1 the model not asked for must not stay in memory"
    assert np.abs(both.generate(SETTINGS).pixels - with_vae).max() == 0.0  # "" is the first again
    assert both.base_models.loads == 3


def test_an_unknown_or_ambiguous_base_model_is_refused_by_name(
    engine: Engine, tiny_models_dir: Path, tmp_path: Path
) -> None:
    from ipa_demo.settings import SettingsError

    with pytest.raises(SettingsError, match="base_model: must be one of this server's base models: stable-diffusion-v1-5$"):
        engine.generate(replace(SETTINGS, base_model="tiny-sd15"))
    twin = tmp_path / "stable-diffusion-v1-5.safetensors"
    twin.write_bytes((tiny_models_dir / SINGLE_FILE).read_bytes())
    with pytest.raises(SettingsError, match="--base-model: two base models are named stable-diffusion-v1-5"):
        Engine(ModelSources(tiny_models_dir), base_model_options=[str(twin)])


def test_a_hub_id_in_the_hub_cache_loads_offline_and_one_not_there_says_so(
    engine: Engine, tmp_path: Path, tiny_models_dir: Path
) -> None:
    import shutil

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--someone--tiny-sd15"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(sd15(tiny_models_dir), repo / "snapshots" / commit)
    sources = ModelSources(None, hub_cache=tmp_path)
    from_hub = Engine(sources, base_model="someone/tiny-sd15")
    assert from_hub.base_model.name == "tiny-sd15"
    assert np.abs(from_hub.generate(SETTINGS).pixels - engine.generate(SETTINGS).pixels).max() == 0.0
    with pytest.raises(MissingModelError, match="someone/other is not in the Hub cache and HF_HUB_OFFLINE is set"):
        Engine(sources, base_model="someone/other")


def test_download_fetches_a_users_repo_into_the_models_folder_layout(
    tiny_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import shutil

    import huggingface_hub

    from ipa_demo.cli import main
    from ipa_demo.models import base_model

    asked: list[tuple[str, list[str], Path]] = []

    def fake_snapshot_download(repo_id: str, *, allow_patterns: list[str], local_dir: Path) -> str:
        asked.append((repo_id, allow_patterns, local_dir))
        shutil.copytree(sd15(tiny_models_dir), local_dir)
        return str(local_dir)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.setattr(base_model, "hub_is_offline", lambda: False)
    assert main(["download", str(tmp_path / "models"), "--base-model", "someone/fine-tune"]) == 0
    assert asked[0][0] == "someone/fine-tune" and "unet/*.safetensors" in asked[0][1]
    assert asked[0][2] == tmp_path / "models" / "fine-tune"
    # ... where --models finds it by its Hub id, offline
    engine = Engine(ModelSources(tmp_path / "models"), base_model="someone/fine-tune")
    assert engine.base_model.path == tmp_path / "models" / "fine-tune"
    monkeypatch.setattr(base_model, "hub_is_offline", lambda: True)
    assert main(["download", str(tmp_path / "models"), "--vae", "someone/vae"]) == 2
    assert "someone/vae: HF_HUB_OFFLINE is set" in capsys.readouterr().err


def test_the_sdxl_inpainting_download_is_what_the_engine_loads(tmp_path: Path, tiny_models_dir: Path) -> None:
    """``download --only sdxl-inpainting-unet`` fetches that repo's unet/ alone (the rest of the repo is SDXL
    base's); a models folder with just those files runs it, with SDXL base's other parts, as the whole folder."""
    spec = SDXL_INPAINTING_UNET
    for other in (SD15, SDXL_BASE):
        (tmp_path / other.repo_name).symlink_to(tiny_models_dir / other.repo_name)
    for name in spec.files:  # what the download writes, taken from the tiny twin's whole folder
        (tmp_path / spec.repo_name / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tiny_models_dir / spec.repo_name / name, tmp_path / spec.repo_name / name)
    assert not (tmp_path / spec.repo_name / "model_index.json").exists()
    image, mask = noise_image(64, 64, seed=9), Image.new("L", (64, 64))
    ImageDraw.Draw(mask).rectangle((8, 20, 40, 60), fill=255)
    settings = replace(SETTINGS, guidance=6.0, strength=1.0, steps=3, scheduler="Euler")
    downloaded = Engine(ModelSources(tmp_path), base_model=spec.repo_id)
    assert downloaded.models.unet.config.in_channels == 9 and downloaded.models.architecture.family == "sdxl"
    whole = Engine(ModelSources(tiny_models_dir), base_model=spec.repo_id)
    ours = downloaded.generate(settings, init_image=image, mask_image=mask).pixels
    assert np.abs(ours - whole.generate(settings, init_image=image, mask_image=mask).pixels).max() == 0.0
