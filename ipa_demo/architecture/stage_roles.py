"""What each stage of an architecture mostly shapes, as facts the page and the help put in words.

Only style and composition are a published finding (InstantStyle, the architecture's presets); the
other stages are told by the scale they work at: the finest feature map, the bottleneck, or between.
"""

from __future__ import annotations

from typing import Literal

from . import Architecture, Stage

Role = Literal["style", "composition", "whole", "fine", "between"]


def role_of(architecture: Architecture, stage: Stage) -> Role:
    if set(stage.modules) & set(architecture.composition):
        return "composition"
    if set(stage.modules) & set(architecture.style):
        return "style"
    if stage.direction == "mid":
        return "whole"
    finest = min(other.downsampling for other in architecture.stages)
    return "fine" if stage.downsampling == finest else "between"


def layer_span(stage: Stage) -> str:
    """The stage's layers as the grid numbers them: "L4–L5", or "L6" for one."""
    first, last = stage.modules[0], stage.modules[-1]
    return f"L{first}" if first == last else f"L{first}–L{last}"


def partner(architecture: Architecture, stage: Stage) -> Stage | None:
    """The up stage working at a down stage's size (the decoder's mirror of it)."""
    mirrors = (other for other in architecture.stages if other.direction == "up")
    return next((other for other in mirrors if other.downsampling == stage.downsampling), None)


def places(architecture: Architecture, modules: tuple[int, ...]) -> str:
    """Where ``modules`` sit, in diffusers' names: whole blocks by the block's name."""
    names = []
    for stage in architecture.stages:
        chosen = [index for index in stage.modules if index in modules]
        if chosen == list(stage.modules):
            names.append(stage.block)
        else:
            names.extend(architecture.modules[index].name for index in chosen)
    return " and ".join(f"`{name}`" for name in names)
