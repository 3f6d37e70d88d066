"""Generation settings: each declared once (``declarations``), validated objects (``generation``),
and the three places they travel, derived from the declarations: API/UI values (``values``), CLI
flags (``arguments``) and the PNG's A1111 text (``parameters``)."""

from .checks import SettingsError, shown
from .declarations import CONTROLNET_KINDS, FIT_MODES, IP_VARIANTS, MAX_IP_SCALE, MAX_SEED, REFERENCE_MODES, T2I_KINDS
from .generation import (
    ControlNetSettings,
    GenerationSettings,
    IPAdapterSettings,
    Limits,
    ReferenceOnlySettings,
    T2IAdapterSettings,
    check_inputs,
    check_limits,
)

__all__ = [
    "CONTROLNET_KINDS",
    "FIT_MODES",
    "IP_VARIANTS",
    "MAX_IP_SCALE",
    "MAX_SEED",
    "REFERENCE_MODES",
    "T2I_KINDS",
    "ControlNetSettings",
    "GenerationSettings",
    "IPAdapterSettings",
    "Limits",
    "ReferenceOnlySettings",
    "SettingsError",
    "T2IAdapterSettings",
    "check_inputs",
    "check_limits",
    "shown",
]
