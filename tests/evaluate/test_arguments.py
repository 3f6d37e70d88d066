"""The README's evaluate commands parse with this command line's flags, and every flag of
``generate`` is an evaluate flag too (the settings are declared once)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from ipa_demo.cli import build_parser

README = Path(__file__).resolve().parents[2] / "README.md"


def commands(parser, name: str):
    return parser._subparsers._group_actions[0].choices[name]  # type: ignore[union-attr]


def test_generation_flags_are_shared_with_generate() -> None:
    parser = build_parser()
    options = {name: {option for action in commands(parser, name)._actions for option in action.option_strings}
               for name in ("generate", "evaluate")}  # fmt: skip
    assert options["generate"] - {"--injection-maps"} <= options["evaluate"]


def test_the_readme_evaluate_commands_parse() -> None:
    section = README.read_text().split("## Evaluate over a data set", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    lines = " ".join(blocks).replace("\\\n", " ").splitlines()
    runs = [line.split("#", 1)[0] for line in lines if "python -m ipa_demo evaluate" in line]
    assert len(runs) == 2
    for run in runs:
        arguments = shlex.split(run.split("python -m ipa_demo", 1)[1])
        parsed = build_parser().parse_args(arguments)
        assert parsed.data == Path("coco")
    assert parsed.ray_address == "auto" and parsed.actors == 8 and parsed.num_gpus == 1
