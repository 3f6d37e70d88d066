"""Run a command line of ``python -m ipa_demo`` several times beside a CPU-burning process and
require exit status 0 every time: a thread or pool left running at interpreter exit aborts the
process now and then (exit -6, "terminate called without an active exception"), and load makes
the race likelier. A script or ``accelerate launch`` reads such an exit as a failed run."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def assert_exits_cleanly(make_args: Callable[[int], list[str]], runs: int, timeout: float = 300) -> None:
    """``make_args(run)``: the arguments after ``-m ipa_demo`` of one run (say, its own ``--out``).
    ``timeout`` only catches a hang: a loaded machine takes a minute to import torch and diffusers."""
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(REPO),
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}  # fmt: skip
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        for run in range(runs):
            done = subprocess.run([sys.executable, "-m", "ipa_demo", *make_args(run)], env=env, cwd=REPO,
                                  capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip
            assert done.returncode == 0, f"run {run + 1} of {runs}: exit {done.returncode}\n{done.stderr[-2000:]}"
    finally:
        burner.kill()
        burner.wait()
