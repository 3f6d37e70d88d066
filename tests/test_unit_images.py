"""The command line's further units end to end on the tiny models: they reach the engine and the PNG."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from ipa_demo.cli import main
from ipa_demo.metadata import read_png_parameters
from ipa_demo.settings.parameters import parse_parameters, settings_from_parameters


def test_a_controlnet_unit_and_a_t2i_unit_reach_the_png(tiny_models_dir: Path, tmp_path: Path, capsys) -> None:
    edges = tmp_path / "edges.png"
    Image.new("RGB", (64, 64), (255, 255, 255)).save(edges)
    code = main([
        "generate", "--models", str(tiny_models_dir), "--prompt", "a room", "--steps", "2", "--width", "64",
        "--height", "64", "--ip-scale", "0", "--seed", "5", "--out", str(tmp_path / "out"),
        "--controlnet-unit", f"kind=canny;map={edges};scale=0.5;start=0.1;end=0.9",
        "--t2i-unit", f"kind=canny;map={edges};scale=0.8;factor=0.5",
    ])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    png = next(path for path in (tmp_path / "out").glob("*.png") if "map" not in path.name)
    text = read_png_parameters(png)
    pairs = parse_parameters(text).pairs
    assert 'Unit: controlnet 2' in pairs["ControlNet 0"] and "Unit: t2i 2" in pairs["ControlNet 1"]
    settings = settings_from_parameters(text)
    assert (settings.more_controlnet_units[0].scale, settings.more_controlnet_units[0].end) == (0.5, 0.9)
    assert settings.more_t2i_units[0].factor == 0.5
