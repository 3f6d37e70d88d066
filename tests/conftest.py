"""Shared fixtures: one tiny model set and one engine per test session; nothing downloads."""

from __future__ import annotations

import os
import sys
import tempfile

# One upload folder per pytest worker: Gradio names an upload after its content, and an app that
# closes deletes the files it holds, so two workers uploading the same test image to one folder
# could delete it under each other's requests.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
os.environ["GRADIO_TEMP_DIR"] = os.path.join(tempfile.gettempdir(), f"ipa-demo-tests-gradio-{_WORKER}")

for _name, _value in {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}.items():
    os.environ[_name] = _value
# Every test's clients share 127.0.0.1, and many tests run several at once: the per-client cap (default 2)
# is tested where it is set (tests/ui/test_clients.py), not imposed on them all.
os.environ.setdefault("IPA_MAX_QUEUED_PER_CLIENT", "64")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from ipa_demo.engine import Engine  # noqa: E402
from ipa_demo.models.sources import ModelSources  # noqa: E402
from ipa_demo.models.tiny import write_tiny_models  # noqa: E402

from .helpers import noise_image  # noqa: E402

# Tiny models gain nothing from threads, and with a second pytest worker on the CPUs torch's
# spinning worker threads slowed a 2-step generation from 0.4 s to a minute.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_models(tmp_path_factory.mktemp("tiny-models"), seed=0)


@pytest.fixture(scope="session")
def engine(tiny_models_dir: Path) -> Engine:
    return Engine(ModelSources(tiny_models_dir))


@pytest.fixture(scope="session")
def reference() -> Image.Image:
    """Non-square on purpose: references rarely are square."""
    return noise_image(96, 72, seed=1)


@pytest.fixture(autouse=True)
def fresh_accelerator_state():
    """accelerate keeps one process-wide state (a real training run is one process): each test that
    trained leaves it reset, so the next may ask for another precision."""
    yield
    if "accelerate.state" in sys.modules:
        from accelerate.state import AcceleratorState, GradientState

        AcceleratorState._reset_state(reset_partial_state=True)
        GradientState._reset_state()
