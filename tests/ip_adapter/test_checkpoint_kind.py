"""An IP-Adapter file's family (SD 1.5 / SDXL) and encoder, told from its shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import CLIPVisionConfig

from ipa_demo.architecture import SD15, SDXL_CONFIG, describe_folder
from ipa_demo.errors import CheckpointError
from ipa_demo.ip_adapter.checkpoint_kind import EncoderOutput, check_fits_base_model, checkpoint_kind
from ipa_demo.ip_adapter.weights import read_checkpoint
from ipa_demo.models.catalog import IP_ADAPTERS
from ipa_demo.models.catalog_sdxl import SDXL_IMAGE_ENCODER, SDXL_IP_ADAPTERS
from ipa_demo.models.sources import ModelSources

SDXL = describe_folder(SDXL_CONFIG)


@pytest.fixture(scope="module")
def sources(tiny_models_dir: Path) -> ModelSources:
    return ModelSources(tiny_models_dir)


@pytest.fixture(scope="module")
def bigg(sources: ModelSources) -> EncoderOutput:
    return EncoderOutput.of(CLIPVisionConfig.from_pretrained(sources.local_path(SDXL_IMAGE_ENCODER)))


@pytest.mark.parametrize(
    ("spec", "family", "variant", "hidden_states"),
    [
        (SDXL_IP_ADAPTERS["base"], "sdxl", "base", False),
        (SDXL_IP_ADAPTERS["vit-h"], "sdxl", "vit-h", False),
        (SDXL_IP_ADAPTERS["plus"], "sdxl", "plus", True),
        (SDXL_IP_ADAPTERS["plus-face"], "sdxl", "plus", True),
        (IP_ADAPTERS["base"], "sd15", "base", False),
        (IP_ADAPTERS["plus"], "sd15", "plus", True),
        (IP_ADAPTERS["full-face"], "sd15", "full-face", True),
    ],
)
def test_family_and_variant_from_shapes(sources, bigg, spec, family: str, variant: str, hidden_states: bool) -> None:
    path = sources.local_path(spec)
    kind = checkpoint_kind(read_checkpoint(path), path, bigg)
    assert (kind.family, kind.variant, kind.need.hidden_states) == (family, variant, hidden_states)


def test_sdxl_base_and_vit_h_differ_only_in_the_encoder_width(sources, bigg) -> None:
    widths = {}
    for variant in ("base", "vit-h"):
        path = sources.local_path(SDXL_IP_ADAPTERS[variant])
        widths[variant] = checkpoint_kind(read_checkpoint(path), path, bigg).need.width
    assert widths == {"base": bigg.embeds, "vit-h": 32} and bigg.embeds != 32


def test_a_file_for_no_known_unet_is_refused(sources, bigg) -> None:
    path = sources.local_path(SDXL_IP_ADAPTERS["base"])
    state = read_checkpoint(path)
    state["ip_adapter"] = {key: value for key, value in state["ip_adapter"].items() if not key.startswith("1.")}
    with pytest.raises(CheckpointError, match=r"for 69 cross-attention layers, which fits no base model .*SD 1.5 16"):
        checkpoint_kind(state, path, bigg)


def test_an_sdxl_full_face_is_refused(sources, bigg) -> None:
    sd15, sdxl = (sources.local_path(spec) for spec in (IP_ADAPTERS["full-face"], SDXL_IP_ADAPTERS["base"]))
    state = {"image_proj": read_checkpoint(sd15)["image_proj"], "ip_adapter": read_checkpoint(sdxl)["ip_adapter"]}
    with pytest.raises(CheckpointError, match="full-face IP-Adapter for SDXL"):
        checkpoint_kind(state, sdxl, bigg)


def test_a_file_for_the_other_family_is_refused_naming_the_flag(sources, bigg) -> None:
    sdxl_path, sd15_path = (sources.local_path(spec) for spec in (SDXL_IP_ADAPTERS["plus"], IP_ADAPTERS["plus"]))
    sdxl_kind = checkpoint_kind(read_checkpoint(sdxl_path), sdxl_path, bigg)
    sd15_kind = checkpoint_kind(read_checkpoint(sd15_path), sd15_path, bigg)
    check_fits_base_model(sd15_kind, SD15, sd15_path)
    check_fits_base_model(sdxl_kind, SDXL, sdxl_path)
    with pytest.raises(CheckpointError, match=r"--ip-checkpoint .* for SDXL, but the base model is SD 1.5"):
        check_fits_base_model(sdxl_kind, SD15, sdxl_path)
    with pytest.raises(CheckpointError, match=r"for SD 1.5, but the base model is SDXL"):
        check_fits_base_model(sd15_kind, SDXL, sd15_path)
