"""ZeroGPU on Hugging Face Spaces: ``spaces.GPU`` when running there, a plain call everywhere else."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

Handler = TypeVar("Handler", bound=Callable[..., Any])


def on_zero_gpu() -> bool:
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "true")


def gpu_task(duration: Callable[..., int]) -> Callable[[Handler], Handler]:
    """Wrap a GPU event handler; ``duration`` gets the handler's arguments and returns seconds."""
    if not on_zero_gpu():
        return lambda handler: handler
    import spaces

    return spaces.GPU(duration=duration)  # type: ignore[no-any-return]
