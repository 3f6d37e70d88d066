"""The layer grid's row titles and the explainer's stage table, built once for any architecture and
said in the words of a ``StageWords`` table (``explainer`` holds the English one, ``explainer_zh`` the Chinese)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..architecture import Architecture, Stage
from ..architecture.stage_roles import Role, layer_span, partner, role_of


@dataclass(frozen=True)
class StageWords:
    roles: Mapping[Role, tuple[str, str]]  # role -> (the grid's row title, "{}": ``going``; the table's words)
    going: Mapping[str, str]  # direction -> "going in" / "coming out" / ""
    header: str  # the table's header row
    back_up: str  # the mid row's right cell
    span: str  # how a stage's layers follow its words: " ({})"
    # A module of the grid: "{place} · block {index} ({side}×{side})", place by direction ("Down 2", "Mid")
    module: str
    places: Mapping[str, str]
    shapes: Mapping[str, str]  # what InstantStyle found a module shapes, after its label


def stage_title(words: StageWords, stage: str, architecture: Architecture) -> str:
    """One row title of the layer grid: the role in words, the technical name and size below it."""
    found = architecture.stage(stage)
    role = words.roles[role_of(architecture, found)][0].format(words.going[found.direction])
    return f"**{role}**<br><small>{stage} · {architecture.feature_side(found)}²</small>"


def _cell(words: StageWords, architecture: Architecture, stage: Stage | None) -> str:
    if stage is None:
        return ""
    return f"**{stage.name}** · {words.roles[role_of(architecture, stage)][1]}{words.span.format(layer_span(stage))}"


def diagram(words: StageWords, architecture: Architecture) -> str:
    """The stages as a table: one row per feature map size, encoder left, decoder right."""
    lines = [words.header, "|---|---|---|"]
    for stage in architecture.stages:
        side = architecture.feature_side(stage)
        if stage.direction == "down":
            mirror = _cell(words, architecture, partner(architecture, stage))
            lines.append(f"| {side}×{side} | {_cell(words, architecture, stage)} | {mirror} |")
        elif stage.direction == "mid":
            lines.append(f"| {side}×{side} | {_cell(words, architecture, stage)} → | {words.back_up} |")
    return "\n".join(lines) + "\n"


def module_label(words: StageWords, architecture: Architecture, index: int) -> str:
    """A grid toggle: ``Down 2 · block 1 (32×32) — composition`` (at the model's default size), with what
    InstantStyle found the module mostly shapes."""
    module = architecture.modules[index]
    stage = architecture.stage(module.stage)
    place = words.places[stage.direction].format(block=stage.block.rpartition(".")[2])
    side = architecture.feature_side(stage)
    label = words.module.format(place=place, index=module.name.rpartition(".")[2], side=side)
    shape = "style" if index in architecture.style else "composition" if index in architecture.composition else ""
    return label + words.shapes.get(shape, "")
