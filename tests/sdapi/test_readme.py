"""The README's ``webuiapi`` example runs as written against the served app (on the tiny models)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from ipa_demo.ui.app import create_app, launch_options

from ..helpers import noise_image
from ..ui.test_app import ROOT, served


def readme_example() -> str:
    section = (ROOT / "README.md").read_text().split("## The AUTOMATIC1111 API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)  # type: ignore[union-attr]


def test_the_readme_example_works_as_written(
    engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    noise_image(96, 72, seed=1).convert("RGB").save("cat.jpg")
    noise_image(64, 64, seed=2).save("pose.png")
    with served(create_app(engine, with_examples=False), **launch_options()) as url:
        port = url.rstrip("/").rsplit(":", 1)[1]
        code = readme_example()
        assert "port=7860" in code
        quick = {"port=7860": f"port={port}", "steps=30": "steps=2", "width=512, height=512": "width=64, height=64"}
        for slow, fast in quick.items():  # the tiny models at the example's settings take minutes on a CPU
            assert slow in code
            code = code.replace(slow, fast)
        exec(compile(code, "README.md", "exec"), {})
    assert Image.open(tmp_path / "cat.png").size == (64, 64)
    printed = capsys.readouterr().out
    assert printed.startswith("[42] a cat, oil painting") and "IP scale: 0.7" in printed and "ControlNet: canny" in printed
