"""The command line's generation flags, derived from the declarations, and settings from them.

Each declared setting with a flag becomes one argument with its type, choices, default and help.
Shorthands: ``--ip-preset NAME`` (instead of ``--ip-layers``), ``--ip-curve NAME`` (instead of
``--ip-weights``), ``--ip-stages down2=1,up1=0.5`` (over the per-stage flags) and ``--control-map
FILE`` (a control image that is already a map).
"""

from __future__ import annotations

import argparse
import random
from typing import Any

from ..architecture.layers import MASK_PRESETS, STAGE_NAMES, WEIGHT_CURVES
from .checks import SettingsError
from .declarations import MAX_SEED, RANDOM_SEED, SETTINGS, Setting, flag_of
from .generation import GenerationSettings
from .unit_arguments import unit_flag_message
from .values import settings_from_values, values_from_settings

STAGES_FLAG = "--ip-stages"
# A named shorthand that stands for a setting's value: (flag, names, help); one or the other is given.
SHORTHANDS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "ip_layers": ("--ip-preset", tuple(MASK_PRESETS), "a named layer mask (default: all)"),
    "ip_weights": ("--ip-curve", tuple(WEIGHT_CURVES), "per-layer weights from a named curve (see --ip-weights)"),
}


def parse_stages(text: str) -> dict[str, float]:
    """``down2=1,up1=0.5`` -> the weights of the stages it names."""
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        stage, sep, value = item.partition("=")
        if not sep or stage.strip() not in STAGE_NAMES:
            raise SettingsError(STAGES_FLAG, f"{item!r} is not STAGE=WEIGHT with STAGE one of {', '.join(STAGE_NAMES)}")
        try:
            weights[stage.strip()] = float(value)
        except ValueError:
            raise SettingsError(STAGES_FLAG, f"{value!r} is not a number") from None
    return weights


def _argument(setting: Setting, default: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"dest": setting.name, "help": setting.help}
    if setting.kind == "flag":
        return {**options, "action": "store_true"}
    if setting.kind == "float":
        options["type"] = float
    elif setting.kind == "int":
        options["type"] = int
    elif setting.kind == "choice":
        options["choices"] = setting.choices
    elif setting.kind == "floats" and not setting.counts:  # one flag per item, e.g. per reference
        return {**options, "action": "append", "type": float, "default": None, "metavar": "W"}
    elif setting.kind == "floats":
        options["metavar"] = "W0,...,WN"
    return {**options, "default": default}


def add_setting_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = values_from_settings(GenerationSettings(prompt=""))
    defaults["seed"] = RANDOM_SEED
    for setting in SETTINGS:
        if setting.flag is None:
            continue
        shorthand = SHORTHANDS.get(setting.name)
        target = parser.add_mutually_exclusive_group() if shorthand else parser
        default = None if setting.name == "ip_layers" else defaults[setting.name]
        target.add_argument(setting.flag, **_argument(setting, default))
        if shorthand:
            flag, choices, what = shorthand
            target.add_argument(flag, choices=choices, help=what)
    parser.add_argument(STAGES_FLAG, default="", help="several stage weights at once, e.g. down2=1,up1=0.5")


def settings_from_args(args: argparse.Namespace, rng: random.Random | None = None) -> GenerationSettings:
    values = {setting.name: getattr(args, setting.name) for setting in SETTINGS if setting.flag is not None}
    values["control_is_map"] = getattr(args, "control_map", None) is not None
    if args.ip_layers is None:
        values["ip_layers"] = MASK_PRESETS[args.ip_preset or "all"]
    if args.ip_curve is not None:
        values["ip_weights"] = WEIGHT_CURVES[args.ip_curve]
    for stage, weight in parse_stages(args.ip_stages).items():
        values[f"ip_stage_{stage}"] = weight
    seed = args.seed
    if seed == RANDOM_SEED:
        seed = (rng or random.SystemRandom()).randint(0, MAX_SEED)
    return settings_from_values(values, seed)


def flag_message(error: SettingsError) -> str:
    """An error as the command line says it: by the flag the user typed."""
    return f"{unit_flag_message(error.field) or flag_of(error.field)}: {error.reason}"
