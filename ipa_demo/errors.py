"""Errors the user can fix. Each message names what is wrong; the CLI prints it as one line.

Kept free of heavy imports so the command line can name them without loading torch.
"""


class ModelLoadError(RuntimeError):
    """A model folder exists but cannot be loaded; the message names it."""


class CheckpointError(RuntimeError):
    """An IP-Adapter file that cannot be used with this UNet; the message names the file."""
