"""LoRA through diffusers (peft), per request: ≡ load_lora_weights at the same scale, no leaks."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from diffusers import StableDiffusionPipeline

from ipa_demo.engine import Engine
from ipa_demo.errors import ModelLoadError
from ipa_demo.models.lora import read_tags
from ipa_demo.models.sources import ModelSources
from ipa_demo.models.tiny_user import LORA_FILE, SINGLE_FILE, VAE_FILE
from ipa_demo.settings import GenerationSettings, IPAdapterSettings, SettingsError

from ..reference_pipelines import ReferencePipeline

TOLERANCE = 1e-4
PLAIN = GenerationSettings(
    prompt="a photo of a cat", negative_prompt="blurry", seed=5, width=64, height=64, steps=4,
    scheduler="DPM++ 2M Karras", num_images=2, ip=IPAdapterSettings(scale=0.0),
)  # fmt: skip


def with_lora(scale: float, settings: GenerationSettings = PLAIN) -> GenerationSettings:
    return replace(settings, prompt=f"{settings.prompt} <lora:tiny-lora:{scale:g}>")


@pytest.fixture(scope="module")
def lora_engine(tiny_models_dir: Path) -> Engine:
    return Engine(ModelSources(tiny_models_dir), loras=[str(tiny_models_dir / LORA_FILE)])


@pytest.mark.parametrize("scale", (1.0, 0.6, -0.5))
def test_a_lora_equals_diffusers_load_lora_weights(lora_engine: Engine, tiny_models_dir: Path, scale: float) -> None:
    ours = lora_engine.generate(with_lora(scale)).pixels
    pipe = StableDiffusionPipeline.from_pretrained(tiny_models_dir / "stable-diffusion-v1-5", safety_checker=None)
    pipe.load_lora_weights(str(tiny_models_dir / LORA_FILE), adapter_name="tiny")
    pipe.set_adapters(["tiny"], [scale])
    theirs = ReferencePipeline(pipe, pipe.scheduler.config).run(PLAIN)
    assert np.abs(ours - theirs).max() <= TOLERANCE
    pipe.disable_lora()
    assert np.abs(ours - ReferencePipeline(pipe, pipe.scheduler.config).run(PLAIN)).max() > 0.01


def test_scale_zero_and_no_tag_equal_an_engine_without_loras(lora_engine: Engine, engine: Engine) -> None:
    fresh = engine.generate(PLAIN).pixels
    assert np.array_equal(lora_engine.generate(with_lora(0.0)).pixels, fresh)
    lora_engine.generate(with_lora(1.0))
    assert np.array_equal(lora_engine.generate(PLAIN).pixels, fresh), "the LoRA leaked into the next request"


def test_the_tag_stays_in_the_png_prompt_and_out_of_the_text(lora_engine: Engine) -> None:
    result = lora_engine.generate(with_lora(0.6))
    assert result.parameters[0].startswith("a photo of a cat <lora:tiny-lora:0.6>\n")
    assert read_tags("a <lora:x:0.5> cat <lora:y>") == ("a cat", read_tags("<lora:x:0.5><lora:y:1>")[1])


def test_concurrent_requests_with_and_without_a_lora_do_not_mix(lora_engine: Engine, engine: Engine) -> None:
    expected = {"plain": engine.generate(PLAIN).pixels, "lora": lora_engine.generate(with_lora(1.0)).pixels}
    results: dict[str, list[np.ndarray]] = {"plain": [], "lora": []}

    def run(kind: str) -> None:
        for _ in range(3):
            results[kind].append(lora_engine.generate(with_lora(1.0) if kind == "lora" else PLAIN).pixels)

    threads = [threading.Thread(target=run, args=(kind,)) for kind in ("plain", "lora", "plain", "lora")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for kind, images in results.items():
        assert len(images) == 6 and all(np.array_equal(image, expected[kind]) for image in images), kind


def test_unknown_names_bad_scales_and_non_lora_files_are_refused(lora_engine: Engine, tiny_models_dir: Path) -> None:
    with pytest.raises(SettingsError, match="no LoRA named other is loaded; loaded: tiny-lora"):
        lora_engine.generate(replace(PLAIN, prompt="a cat <lora:other:1>"))
    with pytest.raises(SettingsError, match=r"the scale of LoRA 'tiny-lora' \('much'\) is not a number"):
        lora_engine.generate(replace(PLAIN, prompt="a cat <lora:tiny-lora:much>"))
    with pytest.raises(ModelLoadError, match="is not a LoRA"):
        Engine(ModelSources(tiny_models_dir), loras=[str(tiny_models_dir / VAE_FILE)])


def test_a_lora_follows_each_base_model_a_request_names(tiny_models_dir: Path, lora_engine: Engine) -> None:
    single = str(tiny_models_dir / SINGLE_FILE)
    both = Engine(ModelSources(tiny_models_dir), loras=[str(tiny_models_dir / LORA_FILE)], base_model_options=[single],
                  keep_base_models=1)  # fmt: skip
    on_file = Engine(ModelSources(tiny_models_dir), base_model=single, loras=[str(tiny_models_dir / LORA_FILE)])
    assert np.array_equal(
        both.generate(replace(with_lora(1.0), base_model="tiny-sd15")).pixels, on_file.generate(with_lora(1.0)).pixels
    )
    assert np.array_equal(both.generate(with_lora(1.0)).pixels, lora_engine.generate(with_lora(1.0)).pixels)


def test_a_lora_with_ip_adapter_equals_diffusers(lora_engine: Engine, tiny_models_dir: Path, reference) -> None:
    settings = replace(PLAIN, ip=IPAdapterSettings(scale=0.7))
    ours = lora_engine.generate(with_lora(0.8, settings), [reference]).pixels
    pipe = ReferencePipeline.load(tiny_models_dir, "base")
    pipe.pipe.load_lora_weights(str(tiny_models_dir / LORA_FILE), adapter_name="tiny")
    pipe.pipe.set_adapters(["tiny"], [0.8])
    assert np.abs(ours - pipe.run(settings, ip_scale=0.7, reference=reference)).max() <= TOLERANCE


def test_the_cli_adds_the_tags_and_checks_the_scales(
    lora_engine: Engine, tiny_models_dir: Path, tmp_path: Path, capsys
) -> None:
    from PIL import Image

    from ipa_demo.cli import main
    from ipa_demo.metadata import read_png_parameters

    base = ["generate", "--models", str(tiny_models_dir), "--lora", str(tiny_models_dir / LORA_FILE),
            "--prompt", "a photo of a cat", "--seed", "5", "--steps", "4", "--width", "64", "--height", "64",
            "--scheduler", "DPM++ 2M Karras", "--ip-scale", "0", "--negative-prompt", "blurry", "--out", str(tmp_path)]  # fmt: skip
    assert main([*base, "--lora-scale", "0.6"]) == 0, capsys.readouterr().err
    png = Path(capsys.readouterr().out.split()[0])
    assert read_png_parameters(png).startswith("a photo of a cat <lora:tiny-lora:0.6>\n")
    expected = lora_engine.generate(replace(with_lora(0.6), num_images=1)).images[0]
    assert np.array_equal(np.asarray(Image.open(png).convert("RGB")), np.asarray(expected))
    assert main([*base, "--lora-scale", "0.6", "--lora-scale", "1"]) == 2
    assert "--lora-scale: give one --lora-scale per --lora (1), or none; got 2" in capsys.readouterr().err
