"""Explore's axes picked by the page's labels (issue 27, item 5): the dropdown lists every axis by the
label its control has on the page, and the pickers and the command line's text stand for each other."""

from __future__ import annotations

import pytest

from ipa_demo.explore.axes import axis_names, parse_axis
from ipa_demo.settings.declarations import SETTINGS
from ipa_demo.ui.axis_picker import SHORTHAND_LABELS, axis_choices, axis_text, picked
from ipa_demo.ui.zh_cn import ZH_CN


def test_every_axis_is_listed_once_by_its_page_label() -> None:
    choices = axis_choices()
    assert sorted(name for _, name in choices) == sorted(axis_names())
    labels = [label for label, _ in choices]
    assert len(set(labels)) == len(labels), "two axes would read the same"
    by_flag = {setting.flag.removeprefix("--"): setting.label for setting in SETTINGS if setting.flag}
    for label, name in choices:
        assert label == SHORTHAND_LABELS.get(name, by_flag.get(name)), name
        assert label in ZH_CN, f"{label!r} has no Chinese"


@pytest.mark.parametrize(("label", "name"), axis_choices())
def test_picking_an_axis_writes_its_command_line_text_and_reads_it_back(label: str, name: str) -> None:
    text = axis_text(name, " 1, 2 ")
    assert text == f"{name}=1, 2"
    assert picked(text) == (name, "1, 2")


def test_what_the_pickers_write_is_what_the_sweep_parses() -> None:
    labels = dict(axis_choices())
    x = parse_axis(axis_text(labels["λ (image prompt weight)"], "0, 0.5, 1"), "x_axis")
    assert [value.changes for value in x.values] == [{"ip_scale": 0.0}, {"ip_scale": 0.5}, {"ip_scale": 1.0}]
    y = parse_axis(axis_text(labels["Layer preset"], "all, style"), "y_axis")
    assert [value.label for value in y.values] == ["all", "style"]


def test_no_setting_means_no_axis_and_unknown_text_leaves_the_pickers() -> None:
    assert axis_text("", "1, 2") == "" and axis_text(None, None) == ""
    assert picked("") == ("", "")
    assert picked("nope=1") is None  # typed by hand: the sweep's own check names the mistake
    assert picked("ip-scale") is None
