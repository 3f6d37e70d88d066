"""An adapter unit's λ per attention module (and, given per-block weights, per transformer block) of the
model that runs it.

Settings accept a mask or weights of any known model's length (``architecture.lengths``); the running
model holds them to its own: a mask of its module count, weights of its module count or (SDXL's 70)
of its transformer block count. A named mask (all, style, composition, style+composition, none) of
another model is that preset of the running one, and another model's named weight curve (``--ip-curve``)
that curve over the running one's modules; anything else of another length is refused naming the
control, with the counts this model takes, never guessed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

from ..architecture import KNOWN, Architecture
from ..architecture.layers import DEFAULT_ARCHITECTURE, STAGE_NAMES, layer_scales, mask_presets, model_weights
from ..architecture.lengths import mask_expectation, weights_expectation
from ..settings import GenerationSettings, IPAdapterSettings, SettingsError


class UnitScales(NamedTuple):
    modules: tuple[float, ...]  # λ per attention module, execution order
    blocks: tuple[float, ...] | None  # λ per transformer block when given per block; None: the module's


def unit_layer_scales(settings: IPAdapterSettings, architecture: Architecture, unit: str = "ip") -> UnitScales:
    """``unit``: how errors name the unit, "ip" / "ip2" (its own fields) or a further unit's field."""
    modules, blocks = len(architecture.modules), len(architecture.blocks)
    if settings.layer_weights:
        weights = model_weights(settings.layer_weights, architecture)
        if weights is None:
            given = len(settings.layer_weights)
            whose = next((f" ({known.title}'s; only its named curves carry over)" for known in KNOWN
                          if given in (len(known.modules), len(known.blocks))), "")  # fmt: skip
            raise _error(unit, "weights", f"{weights_expectation(architecture)}, got {given}{whose}")
        if len(weights) == modules:
            return UnitScales(layer_scales(settings.scale, weights), None)
        per_block = layer_scales(settings.scale, weights)
        return UnitScales(_per_module(architecture, per_block), per_block)
    if len(settings.mask) == modules and architecture.family == DEFAULT_ARCHITECTURE.family:
        return UnitScales(settings.layer_scales, None)  # SD 1.5: the mask × its stage weights
    mask = _model_mask(settings.mask, architecture, unit)
    weights = settings.stage_weights
    for name, weight in zip(STAGE_NAMES, weights, strict=True):
        if weight != weights[0]:
            raise SettingsError(f"ip_stage_{name}", f"the stage weights name SD 1.5's stages; on {architecture.title} "
                                f"give per-layer weights instead ({weights_expectation(architecture)})")  # fmt: skip
    return UnitScales(layer_scales(settings.scale, tuple(weights[0] if bit == "1" else 0.0 for bit in mask)), None)


def _per_module(architecture: Architecture, per_block: tuple[float, ...]) -> tuple[float, ...]:
    """The largest λ among each module's blocks: whether the module acts at all."""
    return tuple(max(per_block[index] for index in module.blocks) for module in architecture.modules)


def _model_mask(mask: str, architecture: Architecture, unit: str) -> str:
    if len(mask) == len(architecture.modules):
        return mask
    owner = next((known for known in KNOWN if len(known.modules) == len(mask)), None)
    named = next((name for name, preset in mask_presets(owner).items() if preset == mask), None) if owner else None
    if named is None:
        whose = f" ({owner.title}'s; only its named masks carry over)" if owner else ""
        raise _error(unit, "layers", f"{mask_expectation(architecture)}, got {len(mask)}{whose}")
    return mask_presets(architecture)[named]


def _error(unit: str, part: str, reason: str) -> SettingsError:
    if unit in ("ip", "ip2"):
        return SettingsError(f"{unit}_{part}", reason)
    return SettingsError(unit, f"{part}: {reason}")


def unit_in_model_terms(settings: IPAdapterSettings, architecture: Architecture) -> IPAdapterSettings:
    """The unit with another model's named mask as the running model's bits and another model's named curve
    as the running model's weights (what its PNG says); each as it was where that cannot be (a unit that did
    not act, or stage weights only SD 1.5 reads)."""
    if settings.layer_weights:
        weights = model_weights(settings.layer_weights, architecture)
        settings = settings if weights is None else replace(settings, layer_weights=weights)
    if len(settings.mask) == len(architecture.modules) or len(set(settings.stage_weights)) > 1:
        return settings
    try:
        return replace(settings, mask=_model_mask(settings.mask, architecture, "ip"))
    except SettingsError:
        return settings


def in_model_terms(settings: GenerationSettings, architecture: Architecture) -> GenerationSettings:
    """Every adapter unit of a request in the running model's terms (``unit_in_model_terms``)."""
    return replace(
        settings,
        ip=unit_in_model_terms(settings.ip, architecture),
        ip2=unit_in_model_terms(settings.ip2, architecture),
        more_ip_units=tuple(unit_in_model_terms(unit, architecture) for unit in settings.more_ip_units),
    )
