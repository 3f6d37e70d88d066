"""The tiny model set loads with the stock diffusers/transformers APIs and every part has an effect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from diffusers import ControlNetModel, StableDiffusionPipeline, T2IAdapter, UNet2DConditionModel
from PIL import Image
from safetensors.torch import load_file
from transformers import CLIPTokenizer, pipeline

from ipa_demo.models.catalog import (
    SD15_SPECS,
    CONTROLNETS,
    DEPTH_ESTIMATOR,
    DEPTH_ESTIMATORS,
    IP_ADAPTERS,
    SD15,
    T2I_ADAPTERS,
)
from ipa_demo.models.sources import ModelSources
from ipa_demo.models.tiny import NO_TWIN, write_tiny_models

SD15_CROSS_ATTENTION_LAYERS = [  # in `unet.attn_processors` order: down, up, then mid
    *(f"down_blocks.{block}.attentions.{layer}" for block in range(3) for layer in range(2)),
    *(f"up_blocks.{block}.attentions.{layer}" for block in range(1, 4) for layer in range(3)),
    "mid_block.attentions.0",
]

@pytest.fixture(scope="session")
def models_dir(tiny_models_dir: Path) -> Path:
    return tiny_models_dir


@pytest.fixture(scope="session")
def sources(models_dir: Path) -> ModelSources:
    return ModelSources(models_dir)


@pytest.fixture(scope="session")
def unet(sources: ModelSources) -> UNet2DConditionModel:
    return UNet2DConditionModel.from_pretrained(sources.local_path(SD15), subfolder="unet").eval()


@pytest.fixture
def pipe(sources: ModelSources) -> StableDiffusionPipeline:
    return StableDiffusionPipeline.from_pretrained(sources.local_path(SD15))


def _weights(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*.safetensors"))}


def _unet_inputs(unet: UNet2DConditionModel) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "sample": torch.randn(1, 4, 8, 8, generator=generator),
        "timestep": torch.tensor(500),
        "encoder_hidden_states": torch.randn(1, 77, unet.config.cross_attention_dim, generator=generator),
    }


def test_same_seed_gives_identical_files_and_another_seed_differs(models_dir: Path, tmp_path: Path) -> None:
    reference = _weights(models_dir)
    # 16 catalog weights files, 6 also under their fp16-variant name; then the users' models (tiny_user.py):
    # a single file, a VAE file, a LoRA, the inpainting folder's UNet and its two files linked from SD1.5;
    # the SDXL base twin's UNet, VAE and two text encoders, 4 also under their fp16 name (tiny_sdxl.py); its
    # ViT-bigG image encoder and four IP-Adapters (tiny_sdxl_ip.py); three ControlNets and three T2I-Adapters,
    # 4 also under fp16 names, the fp16-fix VAE, the inpainting folder's UNet (and its fp16 name) and the
    # three files it links from the base (tiny_sdxl_structure.py); the SDXL base as one file (tiny_sdxl_file.py)
    assert len(reference) == 22 + 6 + 4 + (4 + 5) + (6 + 4 + 1 + 2 + 3) + 1
    assert _weights(write_tiny_models(tmp_path / "again")) == reference
    other = _weights(write_tiny_models(tmp_path / "other", seed=1))
    assert other.keys() == reference.keys()
    assert all(other[name] != reference[name] for name in reference)


def test_the_set_is_small(models_dir: Path) -> None:
    files = {path.stat().st_ino: path.stat().st_size for path in models_dir.rglob("*") if path.is_file()}
    # About 7 MB of catalog models; the users' twins add the SD1.5 again as one file, a VAE, a UNet, a LoRA.
    # The SDXL twins (tiny_sdxl*.py) add about 6 MB: a UNet, an inpainting UNet, three ControlNets, adapters.
    assert sum(files.values()) < 26_000_000


def test_every_file_a_real_download_has_exists(models_dir: Path) -> None:
    for spec in (spec for spec in SD15_SPECS if spec.key not in NO_TWIN):
        for pattern in spec.files:
            path = models_dir / spec.repo_name / pattern
            if path.suffix == ".bin" and not path.exists():  # real T2I-Adapters are pickles; ours are safetensors
                path = path.with_suffix(".safetensors")
            assert path.exists() if "*" not in pattern else any(path.parent.glob(path.name)), path


def test_unet_has_the_sd15_cross_attention_layers(unet: UNet2DConditionModel) -> None:
    suffix = ".transformer_blocks.0.attn2.processor"
    cross = [name.removesuffix(suffix) for name in unet.attn_processors if name.endswith("attn2.processor")]
    assert cross == SD15_CROSS_ATTENTION_LAYERS
    assert len(unet.attn_processors) == 32


def test_pipeline_loads_without_safety_checker(sources: ModelSources, pipe: StableDiffusionPipeline) -> None:
    assert pipe.safety_checker is None and pipe.feature_extractor is None and pipe.image_encoder is None
    assert pipe.vae_scale_factor == 8
    assert pipe.text_encoder.config.hidden_size == pipe.unet.config.cross_attention_dim
    explicit = StableDiffusionPipeline.from_pretrained(sources.local_path(SD15), safety_checker=None)
    assert type(explicit.scheduler).__name__ == "PNDMScheduler"
    assert explicit.scheduler.config.beta_schedule == "scaled_linear"
    fp16_named = StableDiffusionPipeline.from_pretrained(sources.local_path(SD15), variant="fp16")
    assert torch.equal(fp16_named.unet.conv_in.weight, pipe.unet.conv_in.weight)


def test_tokenizer_reads_its_files(sources: ModelSources) -> None:
    tokenizer = CLIPTokenizer.from_pretrained(sources.local_path(SD15) / "tokenizer")
    ids = tokenizer("a photo of a cat", padding="max_length", max_length=tokenizer.model_max_length).input_ids
    assert tokenizer.model_max_length == 77 and len(ids) == 77
    words = ids[1:6]
    assert ids[0] == tokenizer.bos_token_id and ids[6:] == [tokenizer.eos_token_id] * 71
    assert tokenizer.pad_token_id == tokenizer.eos_token_id
    assert len(set(words)) == 4  # "a", "photo", "of", "cat": each word is one merged token
    assert tokenizer.decode(words) == "a photo of a cat"


def test_ip_adapter_checkpoints_use_the_official_keys(sources: ModelSources) -> None:
    widths = {1: 8, 3: 8, 5: 16, 7: 16, 9: 32, 11: 32}  # down_blocks.0-2
    widths |= {13 + 2 * i: 32 for i in range(3)} | {19 + 2 * i: 16 for i in range(3)}  # up_blocks.1-2
    widths |= {25 + 2 * i: 8 for i in range(3)} | {31: 32}  # up_blocks.3, mid
    for spec in IP_ADAPTERS.values():
        state = load_file(sources.local_path(spec))
        for key_id, width in widths.items():
            assert state[f"ip_adapter.{key_id}.to_k_ip.weight"].shape == (width, 32)
            assert state[f"ip_adapter.{key_id}.to_v_ip.weight"].shape == (width, 32)
        assert sum(key.startswith("ip_adapter.") for key in state) == 32
    plus = load_file(sources.local_path(IP_ADAPTERS["plus"]))
    assert plus["image_proj.layers.0.0.to_q.weight"].shape[0] == 64  # diffusers: heads = rows // 64
    assert plus["image_proj.latents"].shape == (1, 16, 32)


@pytest.mark.parametrize("variant", list(IP_ADAPTERS))
def test_ip_adapter_loads_and_changes_the_image(
    variant: str, models_dir: Path, sources: ModelSources, pipe: StableDiffusionPipeline
) -> None:
    filename = sources.local_path(IP_ADAPTERS[variant]).name
    pipe.load_ip_adapter(str(models_dir / "IP-Adapter"), subfolder="models", weight_name=filename)
    assert pipe.image_encoder is not None
    reference = Image.new("RGB", (96, 80), (200, 40, 90))

    def generate(scale: float, output_type: str = "latent") -> torch.Tensor:
        pipe.set_ip_adapter_scale(scale)
        result = pipe(
            "a photo of a cat",
            ip_adapter_image=reference,
            height=64,
            width=64,
            num_inference_steps=2,
            generator=torch.Generator().manual_seed(0),
            output_type=output_type,
        )
        return torch.as_tensor(result.images)

    with_adapter, without = generate(1.0), generate(0.0)
    assert with_adapter.shape == (1, 4, 8, 8)
    assert (with_adapter - without).abs().max() > 1e-3
    assert generate(0.5, "np").shape == (1, 64, 64, 3)


@pytest.mark.parametrize("name", list(CONTROLNETS))
def test_controlnet_changes_the_unet_output(name: str, sources: ModelSources, unet: UNet2DConditionModel) -> None:
    controlnet = ControlNetModel.from_pretrained(sources.local_path(CONTROLNETS[name])).eval()
    inputs = _unet_inputs(unet)
    condition = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        down, mid = controlnet(**inputs, controlnet_cond=condition, return_dict=False)
        plain = unet(**inputs).sample
        guided = unet(**inputs, down_block_additional_residuals=down, mid_block_additional_residual=mid).sample
    assert len(down) == 12
    assert all(residual.abs().max() > 0 for residual in (*down, mid))
    assert (guided - plain).abs().max() > 1e-3


@pytest.mark.parametrize(("name", "in_channels"), [("canny", 1), ("depth", 3)])
def test_t2i_adapter_features_fit_the_unet(
    name: str, in_channels: int, sources: ModelSources, unet: UNet2DConditionModel
) -> None:
    adapter = T2IAdapter.from_pretrained(sources.local_path(T2I_ADAPTERS[name])).eval()
    inputs = _unet_inputs(unet)
    with torch.no_grad():
        features = adapter(torch.rand(1, in_channels, 64, 64, generator=torch.Generator().manual_seed(2)))
        expected = [(1, width, 8 >> level, 8 >> level) for level, width in enumerate(unet.config.block_out_channels)]
        assert [tuple(feature.shape) for feature in features] == expected
        residuals = list(features)  # the UNet pops from it, so a fresh list per call
        adapted = unet(**inputs, down_intrablock_additional_residuals=residuals).sample
        plain = unet(**inputs).sample
    assert residuals == []
    assert (adapted - plain).abs().max() > 1e-3


def test_depth_pipeline_runs_offline(sources: ModelSources) -> None:
    estimator = pipeline("depth-estimation", model=str(sources.local_path(DEPTH_ESTIMATOR)))
    result = estimator(Image.new("RGB", (80, 64), (120, 60, 30)))
    assert isinstance(result["depth"], Image.Image)
    assert result["depth"].size == (80, 64)


@pytest.mark.parametrize(
    ("name", "model_type"), [("depth-anything-v2-small", "depth_anything"), ("dpt-hybrid-midas", "dpt")]
)
def test_depth_twins_have_their_real_architecture(name: str, model_type: str, sources: ModelSources) -> None:
    folder = sources.local_path(DEPTH_ESTIMATORS[name])
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == model_type
    estimator = pipeline("depth-estimation", model=str(folder))
    assert estimator.model.config.model_type == model_type
    assert estimator(Image.new("RGB", (80, 64), (120, 60, 30)))["depth"].size == (80, 64)
    if model_type == "depth_anything":  # DINOv2 patches: sides rounded to multiples of 14, aspect kept
        assert config["backbone_config"]["model_type"] == "dinov2"
        processor = estimator.image_processor
        assert processor.keep_aspect_ratio and processor.ensure_multiple_of == 14
