"""The command line: PNGs with their settings inside, and one-line errors with a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ipa_demo.cli import main
from ipa_demo.metadata import read_png_parameters
from ipa_demo.settings import SettingsError
from ipa_demo.settings.arguments import parse_stages
from ipa_demo.settings.parameters import parse_parameters

from .helpers import noise_image

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def reference_file(tmp_path: Path) -> Path:
    path = tmp_path / "ref.png"
    noise_image(80, 64, seed=4).save(path)
    return path


def small_run(models: Path, out: Path, *extra: str) -> list[str]:
    return [
        "generate", "--models", str(models), "--prompt", "a cat", "--steps", "3",
        "--width", "64", "--height", "64", "--out", str(out), *extra,
    ]  # fmt: skip


def test_generate_writes_pngs_with_parameters(tiny_models_dir, reference_file, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    args = small_run(tiny_models_dir, out, "--reference", str(reference_file), "--seed", "5", "--num-images", "2",
                     "--ip-scale", "0.6", "--ip-preset", "style", "--ip-stages", "up1=0.5")  # fmt: skip
    assert main(args) == 0
    paths = sorted(out.glob("*.png"))
    assert [path.name for path in paths] == ["00000-5.png", "00001-6.png"]
    _, _, pairs = parse_parameters(read_png_parameters(paths[1]) or "")
    assert (pairs["Seed"], pairs["IP scale"], pairs["IP layers"]) == ("6", "0.6", "0000000111000000")
    assert "up1=0.5" in pairs["IP stages"]
    assert capsys.readouterr().out.split() == [str(path) for path in paths]


def test_same_seed_same_image(tiny_models_dir, reference_file, tmp_path) -> None:
    for name in ("a", "b"):
        assert main(small_run(tiny_models_dir, tmp_path / name, "--reference", str(reference_file), "--seed", "9")) == 0
    first, second = (np.asarray(Image.open(next((tmp_path / name).glob("*.png")))) for name in ("a", "b"))
    assert np.array_equal(first, second)


def test_img2img_records_strength(tiny_models_dir, reference_file, tmp_path) -> None:
    out = tmp_path / "out"
    assert main(small_run(tiny_models_dir, out, "--ip-scale", "0", "--init-image", str(reference_file),
                          "--strength", "0.5")) == 0  # fmt: skip
    _, _, pairs = parse_parameters(read_png_parameters(next(out.glob("*.png"))) or "")
    assert pairs["Denoising strength"] == "0.5"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--steps", "0"], "--steps"),
        (["--ip-layers", "11110000"], "--ip-layers"),
        (["--ip-scale", "nan"], "--ip-scale"),
        (["--ip-stages", "down9=1"], "--ip-stages"),
        (["--reference", "/nonexistent.png"], "reference"),
        ([], "--reference:"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tiny_models_dir, tmp_path, capsys, extra, message) -> None:
    assert main(small_run(tiny_models_dir, tmp_path, *extra)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_not_an_image_is_refused(tiny_models_dir, tmp_path, capsys) -> None:
    fake = tmp_path / "text.png"
    fake.write_text("not an image")
    assert main(small_run(tiny_models_dir, tmp_path, "--reference", str(fake))) == 2
    assert "cannot be read as an image" in capsys.readouterr().err


def test_missing_models_folder_says_what_and_how(tmp_path, capsys) -> None:
    assert main(small_run(tmp_path / "empty", tmp_path, "--ip-scale", "0")) == 2
    err = capsys.readouterr().err
    assert "stable-diffusion-v1-5" in err and "download" in err


def test_parse_stages() -> None:
    assert parse_stages("down2=2, up1=0.5") == {"down2": 2.0, "up1": 0.5}
    with pytest.raises(SettingsError):
        parse_stages("up1=lots")


def test_real_process_prints_no_traceback(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ipa_demo", "generate", "--models", str(tmp_path), "--steps", "-1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "Traceback" not in done.stderr


def test_structure_flags_reach_the_png_and_the_maps_are_saved(tiny_models_dir, reference_file, tmp_path) -> None:
    out = tmp_path / "out"
    args = small_run(tiny_models_dir, out, "--ip-scale", "0", "--control-image", str(reference_file),
                     "--controlnet", "canny", "--controlnet-end", "0.5", "--t2i", "depth", "--t2i-scale", "0.7",
                     "--canny-low", "50", "--canny-high", "150", "--seed", "3")  # fmt: skip
    assert main(args) == 0
    _, _, pairs = parse_parameters(read_png_parameters(out / "00000-3.png") or "")
    assert (pairs["ControlNet"], pairs["ControlNet window"], pairs["T2I-Adapter"], pairs["T2I scale"]) == (
        "canny", "0-0.5", "depth", "0.7",
    )  # fmt: skip
    assert pairs["Canny thresholds"] == "50-150"
    assert {path.name for path in out.glob("*-map.png")} == {"00000-3-canny-map.png", "00000-3-depth-map.png"}


def test_controlnet_without_control_image_is_refused(tiny_models_dir, tmp_path, capsys) -> None:
    assert main(small_run(tiny_models_dir, tmp_path, "--ip-scale", "0", "--controlnet", "depth")) == 2
    assert "--control-image" in capsys.readouterr().err


def test_compare_writes_each_image_the_grid_and_a_summary(tiny_models_dir, reference_file, tmp_path) -> None:
    import json

    out = tmp_path / "cmp"
    assert main(["compare", *small_run(tiny_models_dir, out, "--reference", str(reference_file), "--seed", "4")[1:]]) == 0
    summary = json.loads((out / "comparison.json").read_text())
    assert [method["label"] for method in summary["methods"]] == [
        "Reference-only (attn)", "img2img (strength 0.75)", "IP-Adapter (λ 0.7)",
    ]  # fmt: skip
    for method in summary["methods"]:
        _, _, pairs = parse_parameters(read_png_parameters(out / method["file"]) or "")
        assert pairs["Seed"] == "4" and method["seconds"] > 0
    assert (out / "grid.png").exists() and summary["settings"]["seed"] == 4


def test_file_problems_end_in_one_line_before_any_model_loads(tiny_models_dir, tmp_path, capsys, monkeypatch) -> None:
    def no_engine(*args: object) -> None:
        raise AssertionError("the engine must not load before the output folder is known to work")

    monkeypatch.setattr("ipa_demo.cli.load_engine", no_engine)
    a_file = tmp_path / "taken.png"
    a_file.write_bytes(b"x")
    read_only = tmp_path / "read-only"
    read_only.mkdir(mode=0o555)
    cases = {
        ("generate", str(a_file)): f"error: --out: {a_file} is a file; give a folder\n",
        ("compare", str(a_file)): f"error: --out: {a_file} is a file; give a folder\n",
        ("generate", "/proc/no-such-folder"): "error: --out: cannot write to /proc/no-such-folder (No such file or directory)\n",
    }
    if os.geteuid() != 0:  # root writes anywhere
        cases[("generate", str(read_only / "out"))] = f"error: --out: cannot write to {read_only / 'out'} (Permission denied)\n"
    for (command, out), message in cases.items():
        args = small_run(tiny_models_dir, Path(out), "--ip-scale", "0")
        args[0] = command
        if command == "compare":
            args += ["--reference", str(a_file.with_name("ref.png"))]
            noise_image(16, 16, seed=1).save(a_file.with_name("ref.png"))
        assert main(args) == 2 and capsys.readouterr().err == message, (command, out)
    assert main(["tiny-models", str(a_file)]) == 2
    assert capsys.readouterr().err == f"error: dir: {a_file} is a file; give a folder\n"


def test_a_prompt_that_is_not_utf8_is_one_clear_error(tiny_models_dir, tmp_path) -> None:
    args = [arg.encode() for arg in small_run(tiny_models_dir, tmp_path / "out", "--ip-scale", "0")]
    args[args.index(b"a cat")] = b"a \xff\xfe cat"
    done = subprocess.run([sys.executable.encode(), b"-m", b"ipa_demo", *args], capture_output=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2 and not (tmp_path / "out").exists()
    assert done.stderr.decode() == "error: --prompt: is not valid Unicode text (character 3 cannot be encoded)\n"


def test_depth_model_flag_picks_the_estimator_of_the_saved_map(tiny_models_dir, reference_file, tmp_path) -> None:
    from transformers import pipeline

    from ipa_demo.models.catalog import DEPTH_ESTIMATORS
    from ipa_demo.models.sources import ModelSources
    from ipa_demo.structure.control_maps import fit_to_size

    maps = {}
    for name in DEPTH_ESTIMATORS:
        out = tmp_path / name
        assert main(small_run(tiny_models_dir, out, "--ip-scale", "0", "--control-image", str(reference_file),
                              "--t2i", "depth", "--seed", "3", "--depth-model", name)) == 0  # fmt: skip
        maps[name] = np.asarray(Image.open(out / "00000-3-depth-map.png"))
        folder = ModelSources(tiny_models_dir).resolve(DEPTH_ESTIMATORS[name])
        expected = pipeline("depth-estimation", model=str(folder))(fit_to_size(Image.open(reference_file), 64, 64))
        assert np.array_equal(maps[name], np.asarray(expected["depth"].convert("RGB")))
    assert not np.array_equal(*maps.values())


@pytest.mark.parametrize("where", ["flag", "environment"])
def test_an_unknown_depth_model_names_the_flag_and_the_variable(tmp_path, capsys, monkeypatch, where) -> None:
    extra = ["--depth-model", "midas"] if where == "flag" else []
    if where == "environment":
        monkeypatch.setenv("IPA_DEPTH_MODEL", "midas")
    with pytest.raises(SystemExit) as exit_info:
        main(small_run(tmp_path, tmp_path, *extra))
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--depth-model" in error and "IPA_DEPTH_MODEL" in error and "'midas'" in error
    assert "depth-anything-v2-small" in error
