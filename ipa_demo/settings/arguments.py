"""The command line's generation flags, derived from the declarations, and settings from them.

Each declared setting with a flag becomes one argument with its type, choices, default and help.
Three shorthands stay as users' scripts know them: ``--ip-preset NAME`` (instead of
``--ip-layers``), ``--ip-stages down2=1,up1=0.5`` (over the per-stage flags) and ``--control-map
FILE`` (a control image that is already a map).
"""

from __future__ import annotations

import argparse
import random
from typing import Any

from ..ip_adapter.layers import MASK_PRESETS, STAGE_NAMES
from .checks import SettingsError
from .declarations import MAX_SEED, RANDOM_SEED, SETTINGS, Setting, flag_of
from .generation import GenerationSettings
from .values import settings_from_values, values_from_settings

STAGES_FLAG = "--ip-stages"


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
    return {**options, "default": default}


def add_setting_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = values_from_settings(GenerationSettings(prompt=""))
    defaults["seed"] = RANDOM_SEED
    for setting in SETTINGS:
        if setting.flag is None or setting.name == "ip_layers":
            continue
        parser.add_argument(setting.flag, **_argument(setting, defaults[setting.name]))
    mask = parser.add_mutually_exclusive_group()
    mask.add_argument("--ip-layers", dest="ip_layers", help=_help("ip_layers"))
    mask.add_argument("--ip-preset", choices=tuple(MASK_PRESETS), help="a named layer mask (default: all)")
    parser.add_argument(STAGES_FLAG, default="", help="several stage weights at once, e.g. down2=1,up1=0.5")


def _help(name: str) -> str:
    return next(setting.help for setting in SETTINGS if setting.name == name)


def settings_from_args(args: argparse.Namespace, rng: random.Random | None = None) -> GenerationSettings:
    values = {setting.name: getattr(args, setting.name) for setting in SETTINGS if setting.flag is not None}
    values["control_is_map"] = getattr(args, "control_map", None) is not None
    if args.ip_layers is None:
        values["ip_layers"] = MASK_PRESETS[args.ip_preset or "all"]
    for stage, weight in parse_stages(args.ip_stages).items():
        values[f"ip_stage_{stage}"] = weight
    seed = args.seed
    if seed == RANDOM_SEED:
        seed = (rng or random.SystemRandom()).randint(0, MAX_SEED)
    return settings_from_values(values, seed)


def flag_message(error: SettingsError) -> str:
    """An error as the command line says it: by the flag the user typed."""
    return f"{flag_of(error.field)}: {error.reason}"
