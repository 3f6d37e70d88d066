"""The PNG says which models made it (A1111's keys) and loading it back selects them where configured."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from ipa_demo.engine import Engine
from ipa_demo.models.sources import ModelSources
from ipa_demo.models.tiny_user import LORA_FILE, SINGLE_FILE, VAE_FILE
from ipa_demo.models.used import models_used
from ipa_demo.settings import GenerationSettings, IPAdapterSettings
from ipa_demo.settings.parameters import parse_parameters, settings_from_parameters

SETTINGS = GenerationSettings(prompt="a cat <lora:tiny-lora:0.7>", seed=2, width=64, height=64, steps=2,
                              ip=IPAdapterSettings(scale=0.0))  # fmt: skip


def sha10(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


@pytest.fixture(scope="module")
def user_engine(tiny_models_dir: Path) -> Engine:
    return Engine(
        ModelSources(tiny_models_dir),
        base_model=str(tiny_models_dir / SINGLE_FILE),
        vae=str(tiny_models_dir / VAE_FILE),
        loras=[str(tiny_models_dir / LORA_FILE)],
    )


def test_the_parameters_name_model_hash_vae_and_lora_hashes_as_a1111(
    user_engine: Engine, tiny_models_dir: Path
) -> None:
    text = user_engine.generate(SETTINGS).parameters[0]
    prompt, _, pairs = parse_parameters(text)
    assert prompt == "a cat <lora:tiny-lora:0.7>"
    assert pairs["Model hash"] == sha10(tiny_models_dir / SINGLE_FILE) and pairs["Model"] == "tiny-sd15"
    assert pairs["VAE"] == "tiny-vae"
    assert pairs["Lora hashes"] == f"tiny-lora: {sha10(tiny_models_dir / LORA_FILE)}"
    assert list(pairs).index("Model hash") == list(pairs).index("Model") - 1  # A1111's order
    assert settings_from_parameters(text) == SETTINGS
    used = models_used(text)
    assert (used.model, used.model_hash, used.vae) == ("tiny-sd15", sha10(tiny_models_dir / SINGLE_FILE), "tiny-vae")
    assert used.loras == {"tiny-lora": sha10(tiny_models_dir / LORA_FILE)}


def test_the_default_model_writes_its_name_and_no_hash_or_vae(engine: Engine) -> None:
    _, _, pairs = parse_parameters(engine.generate(replace(SETTINGS, prompt="a cat")).parameters[0])
    assert pairs["Model"] == "stable-diffusion-v1-5" and "Model hash" not in pairs and "VAE" not in pairs
    assert "Lora hashes" not in pairs


def test_loading_a_png_back_selects_its_base_model_when_configured(user_engine: Engine, tiny_models_dir: Path) -> None:
    text = user_engine.generate(SETTINGS).parameters[0]
    switching = Engine(ModelSources(tiny_models_dir), base_model_options=[str(tiny_models_dir / SINGLE_FILE)])
    assert switching.base_model.name == "stable-diffusion-v1-5"
    notes = switching.select_models(models_used(text))
    assert notes == ["switched the base model to tiny-sd15", "LoRA tiny-lora is not loaded here"]
    assert switching.base_model.path == tiny_models_dir / SINGLE_FILE
    assert switching.select_models(models_used(text)) == ["LoRA tiny-lora is not loaded here"]  # already there
    other = text.replace("Model: tiny-sd15", "Model: someone-elses").replace("Model hash: ", "Model hash: 0")
    assert switching.select_models(models_used(other))[0] == (
        "the image was made with someone-elses, which is not configured here"
    )


def test_the_page_loading_a_png_switches_and_says_what_differs(
    user_engine: Engine, tiny_models_dir: Path, tmp_path: Path
) -> None:
    from ipa_demo.metadata import save_png
    from ipa_demo.settings import Limits
    from ipa_demo.ui.handlers import Handlers
    from ipa_demo.ui.outputs import OutputStore

    result = user_engine.generate(SETTINGS)
    png = save_png(result.images[0], tmp_path / "made.png", result.parameters[0])
    switching = Engine(ModelSources(tiny_models_dir), base_model_options=[str(tiny_models_dir / SINGLE_FILE)])
    shown = Handlers(switching, OutputStore(tmp_path / "out"), Limits()).load_png(str(png))[-1]
    assert shown.endswith("\nNote: switched the base model to tiny-sd15.\nNote: LoRA tiny-lora is not loaded here.")
    assert switching.base_model.name == "tiny-sd15"


def test_the_page_offers_the_configured_base_models_and_switches(tiny_models_dir: Path) -> None:
    import gradio as gr

    from ipa_demo.ui.app import create_app
    from ipa_demo.ui.base_model import picker_choices

    single = str(tiny_models_dir / SINGLE_FILE)
    switching = Engine(ModelSources(tiny_models_dir), base_model_options=[single])
    assert picker_choices(switching.base_model_options) == [
        ("stable-diffusion-v1-5 (default)", ""),
        ("tiny-sd15", single),
    ]
    demo = create_app(switching, with_examples=False)
    picker = next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "base-model")
    assert isinstance(picker, gr.Dropdown) and picker.value == ""
    switch = next(fn for fn in demo.fns.values() if picker in fn.inputs and fn.fn.__name__ == "switch")
    assert switch.fn(single) == single and switching.base_model.name == "tiny-sd15"
    single_model = create_app(Engine(ModelSources(tiny_models_dir)), with_examples=False)
    assert not any(getattr(block, "elem_id", None) == "base-model" for block in single_model.blocks.values())
