"""Flags shared by every item: parsed as ``generate`` parses them; seeds drawn from the item index."""

from __future__ import annotations

import pytest

from ipa_demo.cli import build_parser
from ipa_demo.evaluate.plan import plan_from_args
from ipa_demo.settings import SettingsError


def plan_of(*flags: str):
    return plan_from_args(build_parser().parse_args(["evaluate", "--data", "d", *flags]))


def test_generation_flags_reach_every_item() -> None:
    plan = plan_of("--ip-scale", "0.7", "--ip-preset", "style", "--steps", "12", "--images-per-item", "3")
    settings = plan.item_settings(5, "a cat")
    assert (settings.prompt, settings.ip.scale, settings.steps, settings.num_images) == ("a cat", 0.7, 12, 3)
    assert settings.ip.mask == plan_of("--ip-preset", "style").settings.ip.mask != plan_of().settings.ip.mask


def test_seeds_follow_the_index_so_items_never_share_one() -> None:
    plan = plan_of("--seed", "100", "--images-per-item", "4")
    assert [plan.item_settings(index, "x").image_seeds for index in (0, 1, 2)] == [
        (100, 101, 102, 103), (104, 105, 106, 107), (108, 109, 110, 111)]  # fmt: skip
    assert plan_of().settings.seed == 0  # fixed by default, so a rerun reproduces the run


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--methods", "ip-adapter,dreambooth"], "--methods: dreambooth given; choose from"),
        (["--methods", ","], "--methods: nothing given"),
        (["--reference", "x.png"], "--reference: evaluate takes each item's own image"),
        (["--init-image", "x.png"], "--init-image: evaluate takes"),
        (["--prompt", "a cat"], "--prompt: evaluate takes each item's caption"),
        (["--images-per-item", "0"], "--images-per-item: must be at least 1"),
        (["--steps", "0"], "steps"),
    ],
)
def test_bad_flags_are_named(flags: list[str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        plan_of(*flags)
