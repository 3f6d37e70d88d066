"""The settings of issue 14 through every place they travel: validation, API values, CLI flags, PNG text, UI."""

from __future__ import annotations

import math
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image

from ipa_demo.architecture.layers import WEIGHT_CURVES
from ipa_demo.cli import build_parser, main
from ipa_demo.images import load_mask
from ipa_demo.ip_adapter.inputs import (
    MASKS_KEY,
    NEGATIVE_KEY,
    MoreReferences,
    masks_from_pairs,
    png_pairs,
    unit_requests,
)
from ipa_demo.ip_adapter.regions import binary_masks
from ipa_demo.metadata import read_png_parameters
from ipa_demo.settings import GenerationSettings, IPAdapterSettings, Limits, SettingsError, check_inputs
from ipa_demo.settings.arguments import flag_message, settings_from_args
from ipa_demo.settings.parameters import format_parameters, parse_parameters, settings_from_parameters
from ipa_demo.settings.values import default_values, settings_from_values, values_from_settings
from ipa_demo.ui.fields import parse_request
from ipa_demo.ui.reference_controls import append_drawn_mask, drawn_mask, shown_weights, weights_from_grid

from ..helpers import noise_image
from ..test_cli import small_run

WEIGHTS = (0.0, 0.3, 1.2, 2.5, 0.7, 0.0, 1.0, 3.0, 0.2, 0.9, 1.5, 0.4, 0.0, 2.0, 1.1, 0.6)


def cli_settings(*flags: str) -> GenerationSettings:
    variant = [] if "--ip-variant" in flags else ["--ip-variant", "base"]  # read_request's default, no checkpoint
    args = build_parser().parse_args(["generate", "--prompt", "x", "--seed", "1", *variant, *flags])
    return settings_from_args(args)


def cli_error(*flags: str) -> str:
    with pytest.raises(SettingsError) as caught:
        cli_settings(*flags)
    return flag_message(caught.value)


# --- 1. per-layer weights ---


@pytest.mark.parametrize(
    "weights", [(1.0,) * 15, (1.0,) * 17, (1.0,) * 15 + (3.5,), (1.0,) * 15 + (math.nan,), (1.0,) * 15 + (-0.1,)]
)
def test_bad_layer_weights_name_the_setting(weights: tuple[float, ...]) -> None:
    with pytest.raises(SettingsError) as caught:
        IPAdapterSettings(layer_weights=weights)
    assert caught.value.field == "ip_weights"


def test_layer_weights_multiply_lambda_and_override_the_mask() -> None:
    ip = IPAdapterSettings(scale=0.5, mask="0" * 16, layer_weights=WEIGHTS)
    assert ip.layer_scales == tuple(0.5 * weight for weight in WEIGHTS) and ip.is_active
    assert IPAdapterSettings(mask="0" * 16).layer_scales == (0.0,) * 16


def test_layer_weights_travel_as_text_in_the_api_and_read_lists_too() -> None:
    values = {**default_values(), "prompt": "x", "ip_weights": "0, 0.3 1.2,2.5, 0.7 0 1 3 0.2 0.9 1.5 0.4 0 2 1.1 0.6"}
    assert settings_from_values(values, seed=1).ip.layer_weights == WEIGHTS
    assert settings_from_values({**values, "ip_weights": list(WEIGHTS)}, seed=1).ip.layer_weights == WEIGHTS
    assert settings_from_values({**values, "ip_weights": ""}, seed=1).ip.layer_weights == ()
    with pytest.raises(SettingsError, match="ip_weights: must be numbers"):
        settings_from_values({**values, "ip_weights": "1, lots"}, seed=1)
    assert values_from_settings(GenerationSettings("x", ip=IPAdapterSettings(layer_weights=WEIGHTS)))["ip_weights"] == (
        "0, 0.3, 1.2, 2.5, 0.7, 0, 1, 3, 0.2, 0.9, 1.5, 0.4, 0, 2, 1.1, 0.6"
    )


def test_cli_weights_and_curves() -> None:
    assert cli_settings("--ip-weights", ",".join(map(str, WEIGHTS))).ip.layer_weights == WEIGHTS
    assert cli_settings("--ip-curve", "ease out").ip.layer_weights == WEIGHT_CURVES["ease out"]
    assert cli_settings("--ip-preset", "style").ip.layer_weights == ()
    assert cli_error("--ip-weights", "1,2") == "--ip-weights: needs 16 numbers on SD 1.5, 11 or 70 on SDXL, got 2"
    with pytest.raises(SystemExit):
        cli_settings("--ip-weights", "1," * 15 + "1", "--ip-curve", "ease in")


def test_png_carries_layer_weights_only_when_given() -> None:
    settings = GenerationSettings("x", ip=IPAdapterSettings(layer_weights=WEIGHTS))
    text = format_parameters(settings, 0, ip_used=True, img2img=False)
    assert parse_parameters(text)[2]["IP weights"].startswith("0, 0.3, 1.2, 2.5")
    assert settings_from_parameters(text) == settings
    plain = format_parameters(GenerationSettings("x"), 0, ip_used=True, img2img=False)
    assert "IP weights" not in parse_parameters(plain)[2]


def test_curves_follow_their_formulas() -> None:
    x = [index / 15 for index in range(16)]
    assert WEIGHT_CURVES["ease in"] == tuple(round(v * v, 2) for v in x)
    assert WEIGHT_CURVES["strong middle"][0] == WEIGHT_CURVES["strong middle"][-1] == 0.0
    assert max(WEIGHT_CURVES["strong middle"]) == 1.0 and min(WEIGHT_CURVES["weak middle"]) == 0.0


def test_weight_grid_shows_the_shorthands_until_weights_are_typed() -> None:
    stages = (1.0, 1.0, 2.0, 1.0, 0.5, 1.0, 1.0)
    assert shown_weights("", "0000110111000000", *stages) == [[0.0] * 4 + [2.0, 2.0, 0.0, 0.5, 0.5, 0.5] + [0.0] * 6]
    assert shown_weights("1 " * 16, "0" * 16, *stages) == [[1.0] * 16]
    assert (
        weights_from_grid([list(WEIGHTS)])
        == values_from_settings(GenerationSettings("x", ip=IPAdapterSettings(layer_weights=WEIGHTS)))["ip_weights"]
    )


# --- 4. negative image ---


def test_cli_negative_reference_acts_and_is_named_in_the_png(tiny_models_dir: Path, tmp_path: Path) -> None:
    reference, negative = tmp_path / "ref.png", tmp_path / "neg.png"
    noise_image(80, 64, seed=4).save(reference)
    noise_image(64, 64, seed=5).save(negative)
    pixels = {}
    for name, extra in {"zero": [], "negative": ["--negative-reference", str(negative)]}.items():
        assert (
            main(small_run(tiny_models_dir, tmp_path / name, "--reference", str(reference), "--seed", "2", *extra)) == 0
        )
        path = tmp_path / name / "00000-2.png"
        pixels[name] = np.asarray(Image.open(path))
        pairs = parse_parameters(read_png_parameters(path) or "")[2]
        assert (NEGATIVE_KEY in pairs) == (name == "negative")
    assert not np.array_equal(pixels["zero"], pixels["negative"])


def test_ui_request_reads_the_negative_reference(tmp_path: Path) -> None:
    path = tmp_path / "neg.png"
    noise_image(40, 30, seed=3).save(path)
    values = {**default_values(), "prompt": "x", "seed": 1, "ip_scale": 0.0, "negative_reference": str(path)}
    request = parse_request(values, Limits())
    assert request.more.negative_reference is not None and request.more.negative_reference.size == (40, 30)
    with pytest.raises(SettingsError) as caught:
        parse_request({**values, "negative_reference": str(tmp_path / "missing.png")}, Limits())
    assert caught.value.field == "negative_reference"


# --- 2. per-reference weights and the combine mode ---


def test_reference_weights_are_checked_and_must_match_the_references() -> None:
    with pytest.raises(SettingsError) as caught:
        IPAdapterSettings(reference_weights=(1.0, -1.0))
    assert caught.value.field == "reference_weights"
    with pytest.raises(SettingsError) as caught:
        IPAdapterSettings(combine="sum")  # type: ignore[arg-type]
    assert caught.value.field == "ip_combine"
    settings = GenerationSettings("x", ip=IPAdapterSettings(reference_weights=(1.0, 0.5)))
    check_inputs(settings, [object(), object()], None)
    with pytest.raises(SettingsError, match="one weight per reference image \\(3\\), got 2"):
        check_inputs(settings, [object()] * 3, None)
    assert not IPAdapterSettings(reference_weights=(0.0, 0.0)).is_active


def test_cli_reference_weights_repeat_and_combine() -> None:
    settings = cli_settings("--reference-weight", "1", "--reference-weight", "0.25", "--combine", "concat")
    assert (settings.ip.reference_weights, settings.ip.combine) == ((1.0, 0.25), "concat")
    assert cli_settings().ip.reference_weights == ()
    assert cli_error("--reference-weight", "4") == "--reference-weight: must be between 0 and 3, got 4.0"


def test_cli_refuses_weights_that_do_not_match_the_references(tiny_models_dir: Path, tmp_path: Path, capsys) -> None:
    reference = tmp_path / "ref.png"
    noise_image(80, 64, seed=4).save(reference)
    args = small_run(tiny_models_dir, tmp_path / "out", "--reference", str(reference), "--reference-weight", "1",
                     "--reference-weight", "2")  # fmt: skip
    assert main(args) == 2
    assert capsys.readouterr().err == "error: --reference-weight: needs one weight per reference image (1), got 2\n"


def test_png_round_trips_reference_weights_and_combine() -> None:
    settings = GenerationSettings("x", ip=IPAdapterSettings(reference_weights=(0.5, 2.0, 0.0), combine="concat"))
    text = format_parameters(settings, 0, ip_used=True, img2img=False)
    pairs = parse_parameters(text)[2]
    assert (pairs["IP reference weights"], pairs["IP combine"]) == ("0.5, 2, 0", "concat")
    assert settings_from_parameters(text) == settings


# --- 3. regions ---


def two_masks() -> tuple[Image.Image, Image.Image]:
    left, right = Image.new("L", (64, 48), 0), Image.new("L", (64, 48), 0)
    left.paste(255, (0, 0, 30, 48))
    right.paste(255, (30, 10, 64, 48))
    return left, right


def test_masks_must_match_the_references_and_name_the_flag(tiny_models_dir: Path, tmp_path: Path, capsys) -> None:
    reference, mask = tmp_path / "ref.png", tmp_path / "mask.png"
    noise_image(80, 64, seed=4).save(reference)
    two_masks()[0].save(mask)
    args = small_run(tiny_models_dir, tmp_path / "out", "--reference", str(reference), "--reference-mask", str(mask),
                     "--reference-mask", str(mask))  # fmt: skip
    assert main(args) == 2
    assert capsys.readouterr().err == "error: --reference-mask: needs one mask per reference image (1), got 2\n"


def test_cli_masks_act_and_travel_inline_in_the_png(tiny_models_dir: Path, tmp_path: Path) -> None:
    reference, mask = tmp_path / "ref.png", tmp_path / "mask.png"
    noise_image(80, 64, seed=4).save(reference)
    two_masks()[0].save(mask)
    pixels = {}
    for name, extra in {"plain": [], "masked": ["--reference-mask", str(mask)]}.items():
        assert (
            main(small_run(tiny_models_dir, tmp_path / name, "--reference", str(reference), "--seed", "2", *extra)) == 0
        )
        path = tmp_path / name / "00000-2.png"
        pixels[name] = np.asarray(Image.open(path))
        restored = masks_from_pairs(parse_parameters(read_png_parameters(path) or "")[2])
        assert len(restored) == (name == "masked")
    assert not np.array_equal(pixels["plain"], pixels["masked"])
    assert torch.equal(binary_masks(restored, 64, 64), binary_masks([two_masks()[0]], 64, 64))


def test_png_masks_round_trip_exactly_at_the_output_size() -> None:
    settings = GenerationSettings("x", width=96, height=72, ip=IPAdapterSettings(reference_weights=(1.0, 0.5)))
    masks = two_masks()
    units = unit_requests(settings, [], MoreReferences(reference_masks=masks))
    pairs = png_pairs(settings, units, used=[True, False])
    restored = masks_from_pairs(pairs)
    assert [mask.size for mask in restored] == [(96, 72)] * 2
    assert torch.equal(binary_masks(restored, 72, 96), binary_masks(masks, 72, 96))
    assert not png_pairs(settings, units, used=[False, False])
    with pytest.raises(SettingsError) as caught:
        masks_from_pairs({MASKS_KEY: "not base64!"})
    assert caught.value.field == "reference_masks"


def test_loading_a_png_restores_its_masks_into_the_page(tmp_path: Path) -> None:
    from ipa_demo.metadata import save_png
    from ipa_demo.settings.parameters import format_parameters as text_of
    from ipa_demo.settings.values import PARAMS
    from ipa_demo.ui.handlers import Handlers
    from ipa_demo.ui.outputs import OutputStore

    settings = GenerationSettings("x", width=64, height=72, ip2=IPAdapterSettings(scale=0.5))
    more = MoreReferences(reference_masks=two_masks(), ip2_masks=two_masks()[:1])
    extra = png_pairs(settings, unit_requests(settings, [], more), used=[True, True])
    text = text_of(settings, 0, ip_used=True, ip2_used=True, img2img=False, extra=extra)
    path = save_png(Image.new("RGB", (8, 8)), tmp_path / "made.png", text)
    handlers = Handlers(object(), OutputStore(tmp_path / "out"), Limits())  # type: ignore[arg-type]
    restored = dict(zip(PARAMS, handlers.load_png(str(path)), strict=False))
    assert [mask.size for mask in restored["reference_masks"]] == [(64, 72)] * 2
    assert [mask.size for mask in restored["ip2_masks"]] == [(64, 72)]


def test_transparent_pixels_of_a_mask_are_black_and_drawings_become_masks(tmp_path: Path) -> None:
    stroke = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    stroke.paste((255, 255, 255, 255), (0, 0, 10, 32))
    stroke.save(tmp_path / "stroke.png")
    mask = load_mask(tmp_path / "stroke.png", "mask")
    assert mask.mode == "L" and mask.getpixel((5, 5)) == 255 and mask.getpixel((20, 5)) == 0
    assert np.array_equal(np.asarray(drawn_mask({"composite": stroke})), np.asarray(mask))
    assert append_drawn_mask({"composite": stroke}, [("a.png", None)])[0] == "a.png"
    with pytest.raises(gr.Error, match="Draw a mask first"):
        append_drawn_mask({"composite": None, "background": None, "layers": []}, None)


def test_ui_request_reads_masks_as_masks(tmp_path: Path) -> None:
    paths = []
    for index, mask in enumerate(two_masks()):
        paths.append(tmp_path / f"mask{index}.png")
        mask.convert("RGBA").save(paths[-1])
        noise_image(40, 30, seed=index).save(tmp_path / f"ref{index}.png")
    values = {**default_values(), "prompt": "x", "seed": 1, "ip_scale": 0.5,
              "reference_images": [(str(tmp_path / f"ref{index}.png"), None) for index in range(2)],
              "reference_masks": [(str(path), None) for path in paths]}  # fmt: skip
    request = parse_request(values, Limits())
    assert [mask.mode for mask in request.more.reference_masks] == ["L", "L"]
    with pytest.raises(SettingsError) as caught:
        parse_request({**values, "reference_masks": values["reference_masks"][:1]}, Limits())
    assert caught.value.field == "reference_masks"


# --- 5. a second adapter unit ---


def test_cli_second_unit_flags() -> None:
    settings = cli_settings(
        "--ip2-scale", "0.4", "--ip2-variant", "plus-face", "--ip2-layers", "0000110000000000",
        "--ip2-start", "0.1", "--ip2-end", "0.9", "--ip2-weights", ",".join(map(str, WEIGHTS)),
    )  # fmt: skip
    assert settings.ip2 == IPAdapterSettings(
        scale=0.4, variant="plus-face", mask="0000110000000000", start=0.1, end=0.9, layer_weights=WEIGHTS
    )
    assert cli_settings().ip2.scale == 0.0 and not cli_settings().ip2.is_active
    window = cli_error("--ip2-start", "0.8", "--ip2-end", "0.5")
    assert window == "--ip2-end: must not be before Second adapter start (0.8)"
    assert cli_error("--ip2-weights", "1") == "--ip2-weights: needs 16 numbers on SD 1.5, 11 or 70 on SDXL, got 1"


def test_second_unit_needs_its_references_and_one_mask_each(tiny_models_dir: Path, tmp_path: Path, capsys) -> None:
    reference, mask = tmp_path / "ref.png", tmp_path / "mask.png"
    noise_image(80, 64, seed=4).save(reference)
    two_masks()[0].save(mask)
    assert main(small_run(tiny_models_dir, tmp_path / "a", "--ip-scale", "0", "--ip2-scale", "0.5")) == 2
    assert capsys.readouterr().err.startswith("error: --ip2-reference: this IP-Adapter needs a reference image")
    args = small_run(tiny_models_dir, tmp_path / "b", "--ip-scale", "0", "--ip2-scale", "0.5",
                     "--ip2-reference", str(reference), "--ip2-mask", str(mask), "--ip2-mask", str(mask))  # fmt: skip
    assert main(args) == 2
    assert capsys.readouterr().err == "error: --ip2-mask: needs one mask per reference image (1), got 2\n"


def test_cli_second_unit_acts_and_its_png_round_trips(tiny_models_dir: Path, tmp_path: Path) -> None:
    reference, mask = tmp_path / "ref.png", tmp_path / "mask.png"
    noise_image(80, 64, seed=4).save(reference)
    two_masks()[1].save(mask)
    args = small_run(tiny_models_dir, tmp_path / "out", "--ip-scale", "0", "--ip2-scale", "0.8", "--ip2-variant",
                     "plus", "--ip2-reference", str(reference), "--ip2-mask", str(mask), "--seed", "3")  # fmt: skip
    assert main(args) == 0
    text = read_png_parameters(tmp_path / "out" / "00000-3.png") or ""
    pairs = parse_parameters(text)[2]
    assert (pairs["IP2-Adapter"], pairs["IP2 scale"], pairs["IP2 window"]) == ("ip-adapter-plus_sd15", "0.8", "0-1")
    assert "IP-Adapter" not in pairs and len(masks_from_pairs(pairs, "IP2 masks")) == 1
    restored = settings_from_parameters(text)
    assert (restored.ip.scale, restored.ip2.scale, restored.ip2.variant) == (0.0, 0.8, "plus")


def test_both_units_references_count_against_the_reference_limit(tmp_path: Path) -> None:
    path = tmp_path / "ref.png"
    noise_image(40, 30, seed=3).save(path)
    values = {**default_values(), "prompt": "x", "seed": 1, "ip_scale": 0.5, "ip2_scale": 0.5,
              "reference_images": [(str(path), None)] * 2, "ip2_reference_images": [(str(path), None)] * 2}  # fmt: skip
    assert len(parse_request(values, Limits(max_references=4)).more.ip2_references) == 2
    with pytest.raises(SettingsError, match="at most 3 reference images"):
        parse_request(values, Limits(max_references=3))


def test_masks_in_a_png_are_bounded_before_they_are_decoded() -> None:
    settings = GenerationSettings("x", width=512, height=512)
    masks = (Image.new("L", (512, 512), 255),) * 3
    pairs = png_pairs(settings, unit_requests(settings, [], MoreReferences(reference_masks=masks)), [True, False])
    assert len(masks_from_pairs(pairs, limits=Limits(max_references=3))) == 3
    with pytest.raises(SettingsError, match="holds 3 masks; at most 2"):
        masks_from_pairs(pairs, limits=Limits(max_references=2))
    with pytest.raises(SettingsError, match="larger than 256 on a side"):
        masks_from_pairs(pairs, limits=Limits(max_side=256))


def test_the_new_controls_wait_in_one_closed_accordion() -> None:
    import gradio as gradio_module

    from ipa_demo.ui.controls import build_controls

    new = ["ip_weights", "reference_weights", "ip_combine", "reference_masks", "negative_reference",
           *(name for name in default_values() if name.startswith("ip2_"))]  # fmt: skip
    with gradio_module.Blocks():
        controls = build_controls(Limits(), gradio_module.Column(), gradio_module.Column())
    for name in new:
        block, accordions = controls.fields[name], []
        while block is not None:
            if isinstance(block, gradio_module.Accordion):
                accordions.append(block)
            block = block.parent
        assert [accordion.elem_id for accordion in accordions] == ["reference-options"], name
        assert accordions[0].open is False
