"""Canny and depth maps: controlnet_aux's canny where its 64-rounding is a no-op, depth equal to transformers'
depth-estimation pipeline (Depth Anything V2 or DPT), exact sizes, a cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from controlnet_aux import CannyDetector
from PIL import Image
from transformers import pipeline

from ipa_demo.engine import Engine
from ipa_demo.models.catalog import DEFAULT_DEPTH_MODEL, DEPTH_ESTIMATORS
from ipa_demo.models.loading import load_depth_estimator
from ipa_demo.models.sources import ModelSources
from ipa_demo.settings import SettingsError
from ipa_demo.structure.control_maps import ControlMapMaker, MapRequest, canny_map, fit_to_size

from ..helpers import noise_image


def smooth_photo(width: int, height: int) -> Image.Image:
    """Shapes with edges (noise alone would make every pixel an edge)."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[(x - width / 2) ** 2 + (y - height / 2) ** 2 < (min(width, height) / 3) ** 2] = (200, 120, 40)
    pixels[: height // 4, : width // 3] = (30, 220, 90)
    return Image.fromarray(pixels)


@pytest.mark.parametrize(("width", "height"), [(128, 192), (256, 128)])
@pytest.mark.parametrize(("low", "high"), [(100, 200), (50, 120)])
def test_canny_equals_controlnet_aux_where_its_rounding_is_a_no_op(width, height, low, high) -> None:
    photo = smooth_photo(width, height)
    theirs = CannyDetector()(photo, low, high, detect_resolution=min(width, height), image_resolution=min(width, height))
    ours = canny_map(photo, low, high)
    assert ours.size == theirs.size
    assert np.array_equal(np.asarray(ours), np.asarray(theirs))
    assert np.asarray(ours).any(), "the test photo must have edges"


def test_maps_have_the_generation_size_even_off_the_64_grid() -> None:
    maker = ControlMapMaker({"depth": lambda: pytest.fail("canny needs no depth model")})
    made = maker.make(smooth_photo(300, 200), MapRequest("canny", 136, 96))
    assert made.size == (136, 96)


def test_fit_to_size_crops_to_the_aspect_instead_of_stretching() -> None:
    wide = Image.new("RGB", (200, 100), (0, 0, 0))
    wide.paste((255, 255, 255), (0, 0, 50, 100))  # a white left quarter is cropped away
    fitted = fit_to_size(wide, 100, 100)
    assert fitted.size == (100, 100) and np.asarray(fitted).max() < 255


def test_second_request_reuses_the_map(engine: Engine) -> None:
    photo = noise_image(96, 64, seed=11)
    request = MapRequest("depth", 64, 64)
    made_before = engine.control_maps.maps_made
    first = engine.control_maps.make(photo, request)
    second = engine.control_maps.make(photo, request)
    assert engine.control_maps.maps_made == made_before + 1
    assert second is first
    engine.control_maps.make(photo, MapRequest("canny", 64, 64))
    assert engine.control_maps.maps_made == made_before + 2


def test_depth_comes_from_the_transformers_estimator(engine: Engine) -> None:
    depth = engine.control_maps.make(smooth_photo(120, 80), MapRequest("depth", 120, 80))
    assert depth.size == (120, 80) and depth.mode == "RGB"
    assert np.asarray(depth).std() > 0


def transformers_depth(folder: Path, image: Image.Image) -> np.ndarray:
    """What transformers' own depth-estimation pipeline makes of ``image``, as an RGB array."""
    return np.asarray(pipeline("depth-estimation", model=str(folder))(image)["depth"].convert("RGB"))


@pytest.mark.parametrize("name", list(DEPTH_ESTIMATORS))
def test_depth_maps_equal_the_transformers_pipeline(name: str, tiny_models_dir: Path) -> None:
    folder = ModelSources(tiny_models_dir).resolve(DEPTH_ESTIMATORS[name])
    maker = ControlMapMaker({"depth": lambda: load_depth_estimator(folder, "cpu")})
    photo, request = smooth_photo(150, 90), MapRequest("depth", 120, 80)
    ours = np.asarray(maker.make(photo, request))
    assert ours.shape == (80, 120, 3) and ours.std() > 0
    assert np.array_equal(ours, transformers_depth(folder, fit_to_size(photo, 120, 80)))


def test_the_engine_uses_the_depth_model_it_was_given(engine: Engine, tiny_models_dir: Path) -> None:
    sources = ModelSources(tiny_models_dir)
    photo, request = smooth_photo(120, 80), MapRequest("depth", 120, 80)
    default = np.asarray(engine.control_maps.make(photo, request))
    assert engine.depth_model == DEFAULT_DEPTH_MODEL == "depth-anything-v2-small"
    assert np.array_equal(default, transformers_depth(sources.resolve(DEPTH_ESTIMATORS[DEFAULT_DEPTH_MODEL]), photo))
    dpt = Engine(sources, depth_model="dpt-hybrid-midas")
    other = np.asarray(dpt.control_maps.make(photo, request))
    assert np.array_equal(other, transformers_depth(sources.resolve(DEPTH_ESTIMATORS["dpt-hybrid-midas"]), photo))
    assert not np.array_equal(default, other)


def test_an_unknown_depth_model_is_refused_by_name(tiny_models_dir: Path) -> None:
    with pytest.raises(SettingsError, match="depth_model.*'midas'.*depth-anything-v2-small"):
        Engine(ModelSources(tiny_models_dir), depth_model="midas")


def test_the_pickled_dpt_twin_loads_only_through_weights_only(tiny_models_dir: Path, monkeypatch) -> None:
    folder = ModelSources(tiny_models_dir).resolve(DEPTH_ESTIMATORS["dpt-hybrid-midas"])
    assert (folder / "pytorch_model.bin").is_file() and not (folder / "model.safetensors").exists()  # as on the Hub
    loads: list[object] = []
    real_load = torch.load

    def recording_load(*args: object, **kwargs: object) -> object:
        loads.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    load_depth_estimator(folder, "cpu")
    assert loads and set(loads) == {True}  # transformers reads the pickle more than once
