"""An adapter unit's λ per attention module of the model that runs it.

Settings are written for SD 1.5's 16 modules by default (the CLI and UI know no model before it loads).
On another architecture (SDXL: 11 modules) the unit's layer choice is read as what it names: a named
mask (all, style, composition, style+composition, none) is that preset of the running model, a mask
or per-layer weights of the model's length are taken as given, and anything else is refused naming
the flag, never guessed.
"""

from __future__ import annotations

from ..architecture import Architecture
from ..architecture.layers import DEFAULT_ARCHITECTURE, MASK_PRESETS, layer_scales, mask_presets
from ..settings import IPAdapterSettings, SettingsError


def unit_layer_scales(settings: IPAdapterSettings, architecture: Architecture) -> tuple[float, ...]:
    count = len(architecture.modules)
    if architecture.family == DEFAULT_ARCHITECTURE.family:
        if len(settings.mask) != count or settings.layer_weights and len(settings.layer_weights) != count:
            raise SettingsError("ip_layers", f"{architecture.title} has {count} attention modules: give {count} bits "
                                f"(--ip-layers) or {count} weights (--ip-weights)")  # fmt: skip
        return settings.layer_scales
    if settings.layer_weights:
        if len(settings.layer_weights) != count:
            raise SettingsError("ip_weights", f"needs {count} numbers on {architecture.title} (one per attention "
                                f"module), got {len(settings.layer_weights)}")  # fmt: skip
        return layer_scales(settings.scale, settings.layer_weights)
    mask = _model_mask(settings.mask, architecture)
    if len(set(settings.stage_weights)) > 1:
        raise SettingsError("ip_stage_down1", f"per-stage weights name SD 1.5's stages; on {architecture.title} "
                            f"give per-module weights (--ip-weights, {count} numbers)")  # fmt: skip
    weight = settings.stage_weights[0]
    return layer_scales(settings.scale, tuple(weight if bit == "1" else 0.0 for bit in mask))


def _model_mask(mask: str, architecture: Architecture) -> str:
    if len(mask) == len(architecture.modules):
        return mask
    named = next((name for name, preset in MASK_PRESETS.items() if preset == mask), None)
    if named is None:
        raise SettingsError("ip_layers", f"has {len(mask)} bits, but {architecture.title} has "
                            f"{len(architecture.modules)} attention modules ({', '.join(architecture.module_names)})")  # fmt: skip
    return mask_presets(architecture)[named]
