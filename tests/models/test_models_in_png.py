"""The PNG says which models made it (A1111's keys) and loading it back selects them where configured."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from ipa_demo.engine import Engine
from ipa_demo.models.sources import ModelSources
from ipa_demo.models.tiny_user import LORA_FILE, SINGLE_FILE, VAE_FILE
from ipa_demo.models_used import models_used
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
    assert settings_from_parameters(text) == replace(SETTINGS, base_model="tiny-sd15")  # Model: what ran
    used = models_used(text)
    assert (used.model, used.model_hash, used.vae) == ("tiny-sd15", sha10(tiny_models_dir / SINGLE_FILE), "tiny-vae")
    assert used.loras == {"tiny-lora": sha10(tiny_models_dir / LORA_FILE)}


def test_the_default_model_writes_its_name_and_no_hash_or_vae(engine: Engine) -> None:
    _, _, pairs = parse_parameters(engine.generate(replace(SETTINGS, prompt="a cat")).parameters[0])
    assert pairs["Model"] == "stable-diffusion-v1-5" and "Model hash" not in pairs and "VAE" not in pairs
    assert "Lora hashes" not in pairs


@pytest.fixture(scope="module")
def two_models(tiny_models_dir: Path) -> Engine:
    return Engine(ModelSources(tiny_models_dir), base_model_options=[str(tiny_models_dir / SINGLE_FILE)])


def test_a_png_names_a_configured_base_model_by_hash_then_by_name(
    user_engine: Engine, two_models: Engine, tiny_models_dir: Path
) -> None:
    text = user_engine.generate(SETTINGS).parameters[0]
    assert two_models.base_models.matching(models_used(text)) == "tiny-sd15"
    renamed = text.replace("Model: tiny-sd15", "Model: renamed-file")  # the hash still says which file
    assert two_models.base_models.matching(models_used(renamed)) == "tiny-sd15"
    other = text.replace("Model hash: ", "Model hash: 0")
    assert two_models.base_models.matching(models_used(other)) is None
    folder = text.replace("Model hash: ", "Ignored: ").replace("Model: tiny-sd15", "Model: stable-diffusion-v1-5")
    assert two_models.base_models.matching(models_used(folder)) == "stable-diffusion-v1-5"


def test_the_page_loading_a_png_sets_its_model_for_that_page_only_and_says_what_differs(
    user_engine: Engine, two_models: Engine, tmp_path: Path
) -> None:
    import gradio as gr

    from ipa_demo.metadata import save_png
    from ipa_demo.settings import Limits
    from ipa_demo.settings.values import PARAMS
    from ipa_demo.ui.handlers import Handlers
    from ipa_demo.ui.outputs import OutputStore

    result = user_engine.generate(SETTINGS)
    png = save_png(result.images[0], tmp_path / "made.png", result.parameters[0])
    handlers = Handlers(two_models, OutputStore(tmp_path / "out"), Limits())
    *values, shown, _blur = handlers.load_png(str(png))
    assert values[PARAMS.index("base_model")] == "tiny-sd15"
    notes = ("Note: base model set to tiny-sd15, for your requests only.", "Note: LoRA tiny-lora is not loaded here.")
    assert all(note in shown.splitlines() for note in notes), shown
    assert two_models.base_model.name == "stable-diffusion-v1-5", "nothing switched for anyone else"
    other = tmp_path / "other.png"
    save_png(result.images[0], other, result.parameters[0].replace("Model hash: ", "Model hash: 0"))
    *values, shown, _blur = handlers.load_png(str(other))
    assert isinstance(values[PARAMS.index("base_model")], type(gr.skip()))  # the page keeps its own choice
    assert "Note: the image was made with tiny-sd15, which is not configured here." in shown


def test_the_page_offers_the_configured_base_models_as_a_request_input(
    two_models: Engine, tiny_models_dir: Path
) -> None:
    import gradio as gr

    from ipa_demo.ui.app import create_app

    demo = create_app(two_models, with_examples=False)
    picker = next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == "base_model")
    assert isinstance(picker, gr.Dropdown) and picker.visible and picker.value == "stable-diffusion-v1-5"
    assert picker.choices == [("stable-diffusion-v1-5 (default)", "stable-diffusion-v1-5"), ("tiny-sd15", "tiny-sd15")]
    uses = [fn for fn in demo.fns.values() if picker in fn.inputs]
    # Besides the requests and their checks, only page helpers read it: the layer grid, presets, per-layer weights
    # grid and curves of the chosen model's family, none queued nor public, so none reaches the engine.
    page_only = {"from_preset", "shown", "weights_shown", "from_curve", "from_shorthands"}
    assert uses and all(fn.api_name in ("generate", "inpaint", "compare", "sweep", "injection_maps") or fn.fn is None or
                        fn.fn.__name__ == "explain" or
                        (fn.fn.__name__ in page_only and not fn.queue and fn.api_visibility != "public")
                        for fn in uses), "an input of requests and of page helpers, no event of its own"  # fmt: skip
    single_model = create_app(Engine(ModelSources(tiny_models_dir)), with_examples=False)
    hidden = next(block for block in single_model.blocks.values() if getattr(block, "elem_id", None) == "base_model")
    assert not hidden.visible
