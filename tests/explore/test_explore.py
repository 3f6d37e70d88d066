"""Sweeps: each cell is exactly its own generation; axes parse from their declarations; scores and maps."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ipa_demo.architecture.layers import MASK_PRESETS, NUM_LAYERS
from ipa_demo.cli import main
from ipa_demo.engine import Engine
from ipa_demo.explore.axes import NO_AXIS, parse_axis
from ipa_demo.explore.sweep import plan, progress_label, run, sweep_batches
from ipa_demo.settings import GenerationSettings, IPAdapterSettings, Limits, SettingsError
from ipa_demo.settings.parameters import settings_from_parameters
from ipa_demo.settings.values import values_from_settings
from ipa_demo.ui.explore import Sweeper
from ipa_demo.ui.handlers import Handlers
from ipa_demo.ui.outputs import OutputStore

from ..helpers import noise_image

BASE = GenerationSettings(prompt="a cat", seed=7, width=64, height=64, steps=3, ip=IPAdapterSettings(scale=0.6))


@pytest.mark.parametrize(
    ("x", "y"),
    [
        ("ip-scale=0,0.8", "ip-variant=base,plus"),
        ("ip-layers=each", ""),
        ("ip-start=0,0.5", "ip-end=0.5,1"),
        ("seed=3,4", "ip-weights=0 0 0 0 0 0 1 2 0.5 0 0 0 0 0 0 0;3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1"),
    ],
    ids=["lambda-variant", "atlas", "window", "seed-weights"],
)
def test_every_cell_equals_generate_with_its_settings(engine: Engine, reference: Image.Image, x: str, y: str) -> None:
    """The cells share their UNet calls (one batch of up to 8): each still equals its own generation."""
    x_axis, y_axis = parse_axis(x, "--x"), parse_axis(y, "--y") if y else NO_AXIS
    cells = plan(values_from_settings(BASE), BASE.seed, x_axis, y_axis)
    if x == "ip-layers=each":
        cells = cells[4:7]  # three of the sixteen: the rule is the same for each
    result = run(engine, cells, x_axis, y_axis, [reference], batch_size=8)
    for item in result.cells:
        alone = engine.generate(item.cell.settings, [reference]).pixels[0]
        assert np.abs(item.pixels - alone).max() <= 1e-4, item.cell.x_label
    assert len({item.cell.settings for item in result.cells}) == len(cells), "each cell asks for something else"


def test_atlas_and_leave_one_out_cover_each_layer_once() -> None:
    alone = [value.changes["ip_layers"] for value in parse_axis("ip-layers=each", "--x").values]
    but_one = [value.changes["ip_layers"] for value in parse_axis("ip-layers=leave-one-out", "--x").values]
    assert len(alone) == len(but_one) == NUM_LAYERS
    for index, (single, rest) in enumerate(zip(alone, but_one)):
        assert single.count("1") == 1 and single[index] == "1"
        assert rest.count("0") == 1 and rest[index] == "0"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ip-scale", "NAME=VALUE"),
        ("brightness=1,2", "not a setting to sweep"),
        ("ip-scale=0,lots", "not a number"),
        ("ip-preset=all,everything", "not a preset"),
        ("steps=10,10", "twice"),
    ],
)
def test_a_bad_axis_is_an_error_naming_where(spec: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        parse_axis(spec, "--x")
    assert caught.value.field == "--x"


def test_a_cell_with_bad_settings_names_its_cell() -> None:
    with pytest.raises(SettingsError, match="in the cell ip-start=0.9") as caught:
        plan(values_from_settings(replace(BASE, ip=IPAdapterSettings(end=0.5))), 1, parse_axis("ip-start=0,0.9", "--x"))
    assert caught.value.field == "ip_end"


def test_presets_axis_sets_the_masks() -> None:
    cells = plan(values_from_settings(BASE), 1, parse_axis("ip-preset=style,composition", "--x"))
    assert [cell.settings.ip.mask for cell in cells] == [MASK_PRESETS["style"], MASK_PRESETS["composition"]]


def test_differences_are_zero_where_ip_adapter_is_off(engine: Engine, reference: Image.Image) -> None:
    x = parse_axis("ip-scale=0,1.5", "--x")
    result = run(engine, plan(values_from_settings(BASE), BASE.seed, x), x, references=[reference], differences=True)
    off, on = result.cells
    assert off.mean_difference == 0.0 and on.mean_difference > 0.0
    assert result.differences is not None and result.differences.size == result.grid.size
    assert off.similarity is not None and -1.0 <= off.similarity <= 1.0


def test_cli_sweep_writes_cells_grid_and_summary(tiny_models_dir: Path, tmp_path: Path, reference: Image.Image) -> None:
    reference.save(tmp_path / "ref.png")
    out = tmp_path / "out"
    args = ["sweep", "--models", str(tiny_models_dir), "--device", "cpu", "--prompt", "a cat", "--reference",
            str(tmp_path / "ref.png"), "--width", "64", "--height", "64", "--steps", "2", "--seed", "3",
            "--x", "ip-scale=0.5,1", "--y", "seed=3,4", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    summary = json.loads((out / "sweep.json").read_text())
    assert [(cell["x"], cell["y"]) for cell in summary["cells"]] == [
        ("ip-scale=0.5", "seed=3"), ("ip-scale=1", "seed=3"), ("ip-scale=0.5", "seed=4"), ("ip-scale=1", "seed=4")
    ]  # fmt: skip
    first = Image.open(out / summary["cells"][2]["file"])
    assert "Seed: 4," in first.info["parameters"] and "IP scale: 0.5" in first.info["parameters"]
    assert (out / "grid.png").exists() and (out / "differences.png").exists()


def test_cli_names_the_axis_flag(tiny_models_dir: Path, tmp_path: Path, capsys) -> None:
    assert main(["sweep", "--models", str(tiny_models_dir), "--x", "nope=1", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: --x: 'nope' is not a setting to sweep")


def sweep_request(reference_path: Path, **changes: object) -> dict[str, object]:
    values = {**values_from_settings(replace(BASE, steps=2)), "seed": 5, "reference_images": [(str(reference_path), None)],
              "init_image": None, "control_image": None, "x_axis": "ip-scale=0,1", "y_axis": ""}  # fmt: skip
    return {**values, **changes}


def sweeper_for(engine: Engine, tmp_path: Path, limits: Limits | None = None) -> Sweeper:
    return Sweeper(Handlers(engine, OutputStore(tmp_path / "out"), limits or Limits()))


def test_the_explore_tab_answers_grid_maps_plot_and_scores(engine: Engine, tmp_path: Path, reference: Image.Image) -> None:
    import gradio as gr

    reference.save(tmp_path / "ref.png")
    sweeper = sweeper_for(engine, tmp_path)
    *_, (grid, differences, plot, table, note, files) = sweeper.sweep(gr.Progress(), **sweep_request(tmp_path / "ref.png"))
    assert Image.open(grid).size == Image.open(differences).size
    assert list(plot["value"]["x"]) == [0.0, 1.0] and plot["visible"] and plot["x_title"] == "ip-scale"
    assert list(table.columns[:2]) == ["X: ip-scale", "Y"] and list(table.iloc[:, 0]) == ["0", "1"]
    assert "Seed 5" in note
    assert table.iloc[0, 3] == 0.0 and table.iloc[1, 3] > 0.0  # λ = 0 is the baseline itself
    with zipfile.ZipFile(files) as archive:
        names = archive.namelist()
        summary = json.loads(archive.read("sweep.json"))
        texts = [Image.open(io.BytesIO(archive.read(cell["file"]))).info["parameters"] for cell in summary["cells"]]
    scales = [settings_from_parameters(text).ip.scale for text in texts]
    assert {"grid.png", "differences.png", "sweep.json"} <= set(names) and len(names) == 5
    assert scales == [0.0, 1.0], "each cell's PNG carries its own settings"


@pytest.mark.parametrize(
    ("changes", "bad", "message"),
    [
        ({"x_axis": "nope=1"}, "x_axis", "not a setting to sweep"),
        ({"y_axis": "seed=1,x"}, "y_axis", "not a whole number"),
        ({"x_axis": "ip-layers=each", "y_axis": "seed=1,2,3"}, "x_axis", "at most 32"),
        ({"steps": 0}, "steps", "between 1"),
    ],
)
def test_the_sweep_validator_marks_the_bad_input(engine: Engine, tmp_path: Path, changes, bad, message) -> None:
    refused = refusals(sweeper_for(engine, tmp_path), tmp_path, **changes)
    assert len(refused) == 1 and refused[0][0] == bad and message in refused[0][1]


def refusals(sweeper: Sweeper, tmp_path: Path, **changes: object) -> list[tuple[str, str]]:
    """What the sweep's validator refuses, as (input, message)."""
    from ipa_demo.ui.explore import SWEEP_INPUTS

    Image.new("RGB", (64, 64)).save(tmp_path / "ref.png")
    checks = sweeper.validate(**sweep_request(tmp_path / "ref.png", **changes))
    assert len(checks) == len(SWEEP_INPUTS)
    return [(name, check["message"]) for name, check in zip(SWEEP_INPUTS, checks) if not check["is_valid"]]


@pytest.mark.parametrize(
    ("changes", "refused"),
    [
        ({"x_axis": "steps=2,50"}, ("x_axis", "steps=50: at most 10 on this server, got 50")),
        ({"y_axis": "width=64,4096"}, ("y_axis", "width=4096: at most 128 on this server, got 4096")),
        ({"x_axis": "height=64,100000"}, ("x_axis", "height=100000: must be between 64 and 8192, got 100000")),
        ({"x_axis": "num-images=1,8"},
         ("x_axis", "every cell is one image, so num-images cannot be an axis (seed=1,2,3 can)")),
        ({"x_axis": "ip-scale=,"}, ("x_axis", "'ip-scale=,' lists no value")),
        ({"x_axis": "ip-scale=0," + "9" * 900 + "x"}, ("x_axis", "'" + "9" * 39 + "…' is not a number")),
        ({"x_axis": "seed=" + "1" * 5000}, ("x_axis", "is 5,005 characters long; an axis may have at most 1,000")),
        ({"x_axis": "ip-scale=0,1", "ip_scale": 0.0, "reference_images": None},
         ("reference_images", "IP-Adapter needs a reference image (or set λ to 0) (in the cell ip-scale=1)")),
    ],
    ids=["server-steps", "server-side", "hard-ceiling", "num-images", "no-value", "long-value", "long-axis",
         "needs-reference"],
)
def test_every_cell_is_checked_as_a_request_is_and_an_axis_is_blamed_for_its_values(
    engine: Engine, tmp_path: Path, changes: dict[str, str], refused: tuple[str, str]
) -> None:
    sweeper = sweeper_for(engine, tmp_path, Limits(max_steps=10, max_side=128))
    assert refusals(sweeper, tmp_path, **changes) == [refused]


def test_too_many_cells_are_refused_before_any_cell_is_planned(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def planned(*args: object, **kwargs: object) -> None:
        raise AssertionError("cells were planned")

    monkeypatch.setattr("ipa_demo.ui.explore.plan", planned)
    axis = "seed=" + ",".join(str(seed) for seed in range(150))
    assert refusals(sweeper_for(engine, tmp_path), tmp_path, x_axis=axis, y_axis="ip-scale=0,1") == [
        ("x_axis", "150 × 2 = 300 cells; this server makes at most 32 in one sweep")
    ]


def test_the_progress_names_each_image_of_the_sweep() -> None:
    x = parse_axis("ip-scale=0.5,1", "x_axis")
    cells = plan(values_from_settings(BASE), BASE.seed, x)
    label = progress_label(sweep_batches(cells, True, 1), img2img=False)
    total = 3 * BASE.steps  # two cells and their one baseline with IP-Adapter off
    assert label((1, total)) == "Image 1 of 3, cell ip-scale=0.5"
    assert label((BASE.steps + 1, total)) == "Image 2 of 3, cell ip-scale=1"
    assert label((total, total)) == "Image 3 of 3, IP-Adapter off, for the change maps"
    batched = progress_label(sweep_batches(cells, True, 8), img2img=False)
    inpainting = progress_label(sweep_batches(cells, True, 8, inpainting=True), img2img=False)
    assert inpainting((1, total)) == "Image 1 of 3, cell ip-scale=0.5", "an inpainting sweep makes one at a time"
    assert batched((1, total)) == batched((total, total)) == "Images 1–3 of 3, 3 cells at once"


def test_a_sweep_over_an_init_image_and_a_mask_inpaints_each_cell(engine: Engine, reference: Image.Image) -> None:
    settings = replace(BASE, steps=2, strength=0.8)
    init, mask = noise_image(64, 64, seed=4), Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    x = parse_axis("ip-scale=0,1", "--x")
    cells = plan(values_from_settings(settings), settings.seed, x)
    result = run(engine, cells, x, references=[reference], init_image=init, mask_image=mask, batch_size=8)
    for item in result.cells:
        alone = engine.generate(item.cell.settings, [reference], init_image=init, mask_image=mask).pixels[0]
        assert np.abs(item.pixels - alone).max() <= 1e-4, item.cell.x_label


def test_cells_differing_in_ip_settings_and_seed_share_each_step_of_the_unet(
    engine: Engine, reference: Image.Image
) -> None:
    x_axis, y_axis = parse_axis("ip-scale=0,0.5,1", "--x"), parse_axis("seed=1,2", "--y")
    cells = plan(values_from_settings(BASE), BASE.seed, x_axis, y_axis)
    assert [len(batch) for batch in sweep_batches(cells, False, 4)] == [4, 2]
    calls, reported = [], []
    hook = engine.models.unet.register_forward_hook(lambda *_: calls.append(1))
    try:
        run(engine, cells, x_axis, y_axis, [reference], batch_size=4, on_step=lambda d, t: reported.append((d, t)))
    finally:
        hook.remove()
    assert len(calls) == 2 * BASE.steps, "one UNet call per step for each batch, not per cell"
    assert reported[-1] == (6 * BASE.steps, 6 * BASE.steps) and [d for d, _ in reported] == sorted({d for d, _ in reported})


def test_cells_that_differ_in_anything_else_are_not_batched_together() -> None:
    cells = plan(values_from_settings(BASE), 1, parse_axis("steps=2,3", "--x"), parse_axis("ip-scale=0.2,0.4", "--y"))
    assert [[settings.steps for settings, _ in batch] for batch in sweep_batches(cells, False, 8)] == [[2, 2], [3, 3]]
    with_reference_only = replace(BASE, reference_only=replace(BASE.reference_only, mode="attn"))
    cells = plan(values_from_settings(with_reference_only), 1, parse_axis("seed=1,2", "--x"))
    assert [len(batch) for batch in sweep_batches(cells, False, 8)] == [1, 1]
