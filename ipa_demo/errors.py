"""Errors the user can fix. Each message names what is wrong; the CLI prints it as one line.

Kept free of heavy imports so the command line can name them without loading torch.
"""


class SettingsError(ValueError):
    """A setting the engine cannot honour; ``field`` names it (its API parameter name)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.reason = message


class MissingModelError(RuntimeError):
    """A model that is needed could not be found locally nor fetched; the message says how to get it."""


class ModelLoadError(RuntimeError):
    """A model folder exists but cannot be loaded; the message names it."""


class VAELoadError(ModelLoadError):
    """A VAE (``--vae``, not the base model's own) that cannot be loaded; the message names it."""


class CheckpointError(RuntimeError):
    """An IP-Adapter file that cannot be used with this UNet; the message names the file."""


class OutOfMemoryError(RuntimeError):
    """The device ran out of memory for this request; the engine is usable again at once."""

    def __init__(self, device: str) -> None:
        super().__init__(
            f"{device} ran out of memory for this request: try a smaller size, fewer images, fewer "
            "conditioners at once, or start the app with CPU offload (--offload)"
        )
