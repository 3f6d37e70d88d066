"""The command line's further units: ``--ip-unit``, ``--controlnet-unit``, ``--t2i-unit`` with key=value pairs."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import pytest
from PIL import Image

from ipa_demo.cli import build_parser, main, read_request
from ipa_demo.settings.unit_keys import MASK_PRESETS, STAGE_NAMES, WEIGHT_CURVES
from ipa_demo.settings import SettingsError
from ipa_demo.settings.arguments import flag_message
from ipa_demo.settings.unit_arguments import parse_unit_text, unit_flag_message


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for name, colour in (("room", (90, 60, 30)), ("edges", (255, 255, 255)), ("face", (200, 150, 120)),
                         ("style", (20, 40, 200)), ("mask", (255, 255, 255))):  # fmt: skip
        paths[name] = tmp_path / f"{name}.png"
        Image.new("RGB", (64, 48), colour).save(paths[name])
    return paths


def _request(*flags: str):
    return read_request(build_parser().parse_args(["generate", "--prompt", "x", "--ip-scale", "0", *flags]))


def _error(*flags: str) -> str:
    with pytest.raises(SettingsError) as caught:
        _request(*flags)
    return flag_message(caught.value)


def test_the_text_is_split_into_keys_and_a_repeated_key_is_a_list() -> None:
    assert parse_unit_text("kind=canny; map = a=b.png ;;scale=0.5") == {"kind": "canny", "map": "a=b.png", "scale": "0.5"}
    assert parse_unit_text("reference=a.png;reference=b.png;reference=c.png")["reference"] == ["a.png", "b.png", "c.png"]
    with pytest.raises(SettingsError, match="'scale' is not key=value"):
        parse_unit_text("kind=canny;scale")


def test_the_issue_examples_reach_the_settings_and_the_images(files: dict[str, Path]) -> None:
    request = _request(
        "--controlnet", "canny", "--control-image", str(files["room"]),
        "--controlnet-unit", f"kind=depth;image={files['room']};scale=0.7;start=0;end=0.8",
        "--controlnet-unit", f"kind=canny;map={files['edges']};scale=0.5;mask={files['mask']}",
        "--ip-unit", f"reference={files['face']};variant=plus-face;scale=0.6;layers=1111111111111111",
        "--ip-unit", f"reference={files['face']};reference={files['style']};reference-weight=1;reference-weight=0.5;"
        "preset=style;start=0.2",
        "--t2i-unit", f"kind=canny;map={files['edges']};scale=0.8;factor=0.5",
    )  # fmt: skip
    settings, units = request.settings, request.units
    depth, canny = settings.more_controlnet_units
    assert (depth.kind, depth.scale, depth.start, depth.end) == ("depth", 0.7, 0.0, 0.8)
    assert (canny.kind, canny.scale) == ("canny", 0.5)
    face, style = settings.more_ip_units
    assert (face.variant, face.scale, face.mask) == ("plus-face", 0.6, "1" * 16)
    assert style.reference_weights == (1.0, 0.5) and style.mask == MASK_PRESETS["style"] and style.start == 0.2
    assert settings.more_t2i_units[0].kind == "canny" and settings.more_t2i_units[0].factor == 0.5
    assert units.controlnet[0].image.getpixel((0, 0)) == (90, 60, 30) and units.controlnet[0].map is None
    assert units.controlnet[1].map.getpixel((0, 0)) == (255, 255, 255) and units.controlnet[1].mask is not None
    assert len(units.ip[0].references) == 1 and [ref.getpixel((0, 0)) for ref in units.ip[1].references] == [
        (200, 150, 120), (20, 40, 200)]  # fmt: skip
    assert units.t2i[0].map is not None and units.count() == 7
    assert settings.controlnet.kind == "canny"  # the existing flags stay the first unit


def test_curves_and_stage_weights_and_per_layer_weights(files: dict[str, Path]) -> None:
    reference = f"reference={files['face']}"
    curve = _request("--ip-unit", f"{reference};curve=ease in").settings.more_ip_units[0]
    assert curve.layer_weights == WEIGHT_CURVES["ease in"]
    stage = _request("--ip-unit", f"{reference};stage-{STAGE_NAMES[2]}=0.25").settings.more_ip_units[0]
    assert stage.stage_weights[2] == 0.25 and stage.stage_weights[0] == 1.0
    weights = ",".join(["0.5"] * 16)
    assert _request("--ip-unit", f"{reference};weights={weights}").settings.more_ip_units[0].layer_weights == (0.5,) * 16


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--controlnet-unit", "kind=depth;image=a.png", "--controlnet-unit", "kind=canny;image=a.png;scale=3"],
         "--controlnet-unit 2: scale: must be between 0 and 2, got 3"),
        (["--controlnet-unit", "kind=sketch"], "--controlnet-unit 1: kind: must be one of none, canny"),
        (["--controlnet-unit", "scale=1"], "--controlnet-unit 1: kind: say which controlnet model"),
        (["--controlnet-unit", "kind=canny;colour=red"], "--controlnet-unit 1: colour: no such key for a controlnet unit"),
        (["--controlnet-unit", "kind=canny;scale=lots"], "--controlnet-unit 1: scale: must be a number, got 'lots'"),
        (["--controlnet-unit", "kind=canny;scale=0.5;scale=0.6"], "--controlnet-unit 1: scale: given 2 times"),
        (["--controlnet-unit", "kind=canny;start=0.9;end=0.1"], "--controlnet-unit 1: end: must not be before"),
        (["--controlnet-unit", "kind=canny;guess-mode=true"], "--controlnet-unit 1: guess-mode: no such key"),
        (["--controlnet-unit", "kind=canny"], "--controlnet-unit 1: image: this unit needs a control image or a map"),
        (["--t2i-unit", "kind=canny;map=a.png;mask=b.png"], "--t2i-unit 1: mask: no such key"),
        (["--ip-unit", "scale=0.5"], "--ip-unit 1: reference: this IP-Adapter unit needs a reference image"),
        (["--ip-unit", "reference=a.png;variant=huge"], "--ip-unit 1: variant: must be one of"),
        (["--ip-unit", "reference=a.png;layers=11"], "--ip-unit 1: layers: must be one 0 or 1 per attention module (16 on SD 1.5, 11 on SDXL)"),
        (["--ip-unit", "reference=a.png;preset=wild"], "--ip-unit 1: preset: must be one of"),
        (["--ip-unit", "reference=a.png;preset=style;layers=" + "1" * 16], "--ip-unit 1: layers: give it or its named"),
        (["--ip-unit", "reference=a.png;reference-weight=4"], "--ip-unit 1: reference-weight: must be between 0 and 3"),
        (["--ip-unit", "reference=a.png;weights=1,2"], "--ip-unit 1: weights: needs 16 numbers on SD 1.5, 11 or 70 on SDXL, got 2"),
    ],
)  # fmt: skip
def test_errors_name_the_flag_its_occurrence_and_the_key(files, flags: list[str], message: str) -> None:
    flags = [flag.replace("a.png", str(files["room"])).replace("b.png", str(files["mask"])) for flag in flags]
    assert _error(*flags).startswith(message)


def test_a_missing_unit_image_names_the_flag_and_key_and_loads_no_model(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr("ipa_demo.cli.load_engine", lambda args: pytest.fail("a model was loaded"))
    missing = tmp_path / "nowhere.png"
    code = main(["generate", "--prompt", "x", "--ip-scale", "0", "--out", str(tmp_path), "--controlnet-unit", f"kind=canny;map={missing}"])
    assert code == 2
    error = capsys.readouterr().err
    assert "--controlnet-unit 1 map" in error and "Traceback" not in error


def test_the_server_cap_and_limits_are_named_by_flag() -> None:
    assert unit_flag_message("controlnet_units") == "--controlnet-unit"
    assert unit_flag_message("ip_unit_4.references") == "--ip-unit 2: reference"
    assert unit_flag_message("t2i_unit_2") == "--t2i-unit 1"
    assert unit_flag_message("ip_unit_2") is None and unit_flag_message("controlnet_scale") is None


def test_the_parser_is_linear() -> None:
    def seconds(size: int) -> float:
        text = "kind=canny;" + "scale=1;" * size
        gc.collect()
        gc.disable()  # a collection landing in one run only is noise, not growth
        began = time.perf_counter()
        parse_unit_text(text)
        spent = time.perf_counter() - began
        gc.enable()
        return spent

    seconds(1000)
    small, large = min(seconds(25_000) for _ in range(3)), min(seconds(100_000) for _ in range(3))
    assert large < 8 * small  # linear grows 4x, quadratic 16x
