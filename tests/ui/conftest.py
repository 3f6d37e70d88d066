"""What the browser walks share: the app on the tiny model set, and one Chromium, per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="module")
def app_url(tiny_models_dir: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[str]:
    """``python app.py`` on the tiny model set, as a user starts it (a module may serve another app)."""
    from .test_app import launched_app

    module = request.module.__name__.rsplit(".", 1)[-1]
    with launched_app(tiny_models_dir, tmp_path_factory.mktemp(module) / "app.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser(app_url: str) -> Iterator[Any]:
    """Debian's Chromium, started once the module's app serves (test_browser's skip rules apply)."""
    from .test_browser import CHROMIUM, CHROMIUM_ARGS

    from .browser_checks import launched_chromium

    with launched_chromium(CHROMIUM, CHROMIUM_ARGS) as launched:
        yield launched
