"""The words that teach a newcomer: the page's introduction and "how IP-Adapter steers".

Plain words first, the technical names (``down2``, ``up_blocks.1``, 16²) second, so a reader can
match them with papers and other tools. The stages, sizes and names come from the architecture
description; what each stage shapes from ``stage_roles`` (only style and composition are a published
finding, InstantStyle's; the other stages are described by the scale they work at, which is a fact).
"""

from __future__ import annotations

from collections.abc import Sequence

import gradio as gr

from ..architecture import Architecture
from ..architecture.layers import DEFAULT_ARCHITECTURE
from ..architecture.stage_roles import places
from . import stage_table
from .stage_table import StageWords

# Role -> (the grid's row title; the diagram's words), "{}" is "going in" or "coming out" on the title.
WORDS = StageWords(
    roles={
        "fine": ("Fine detail, {}", "fine detail"),
        "between": ("Mid detail, {}", "mid detail"),
        "composition": ("Composition: layout, pose", "**composition**"),
        "whole": ("Whole picture", "the whole picture"),
        "style": ("Style: colour, texture", "**style**"),
    },
    going={"down": "going in", "mid": "", "up": "coming out"},
    header="| size | going in ↓ (encoder) | coming out ↑ (decoder) |",
    back_up="↑ and back up",
    span=" ({})",
    module="{place} · block {index} ({side}×{side})",
    places={"down": "Down {block}", "mid": "Mid", "up": "Up {block}"},
    shapes={"style": " — style", "composition": " — composition"},
)
GOING = WORDS.going


def stage_title(stage: str, architecture: Architecture = DEFAULT_ARCHITECTURE) -> str:
    """One row title of the layer grid: the role in words, the technical name and size below it."""
    return stage_table.stage_title(WORDS, stage, architecture)


def diagram(architecture: Architecture) -> str:
    """The stages as a table: one row per feature map size, encoder left, decoder right."""
    return stage_table.diagram(WORDS, architecture)


SDXL_GRID_HINT = (
    "Where the reference counts on SDXL: its 11 attention modules, one row per stage, in the order the picture "
    "passes them. The stage sliders are SD 1.5's: weigh SDXL's modules with Per-layer weights (11 numbers, or 70 "
    "for each transformer block)."
)

INTRO = """\
## ipa_demo — Stable Diffusion 1.5 + IP-Adapter
Make a picture from a prompt **and a reference image**. **1.** Type a prompt. **2.** Add a reference \
image, or pick an example. **3.** Press **Generate**. The rest is optional; every PNG keeps its settings."""

def _stage_at(architecture: Architecture, modules: tuple[int, ...]) -> str:
    """ "the 16×16 stage going in (down2)": where a preset's modules sit."""
    stage = architecture.stage(architecture.stages_of(modules)[0])
    side = architecture.feature_side(stage)
    return f"the {side}×{side} stage {GOING[stage.direction]} ({', '.join(architecture.stages_of(modules))})"


def explainer_text(architecture: Architecture) -> str:
    count = len(architecture.modules)
    style, composition = architecture.style, architecture.composition
    weighing = "the sliders weigh a whole stage" if architecture.family == DEFAULT_ARCHITECTURE.family else (
        "Per-layer weights weigh each module (or each transformer block)")  # the stage sliders are SD 1.5's
    return f"""\
**How IP-Adapter steers.** IP-Adapter reads your reference with a CLIP image encoder and turns it \
into a few *image tokens*. At every step the UNet, the network that turns noise into a picture, \
looks at your prompt's words in {count} places (its cross-attention layers, L0–L{count - 1}); IP-Adapter adds a \
second look at the image tokens in each of them, weighted by **λ**. The UNet works on the picture \
at several sizes: it shrinks it (down the left column), works on the smallest version, then grows \
it back (up the right column). Which places get the reference decides what the picture takes from \
it: InstantStyle (Wang et al., 2024) found that {_stage_at(architecture, composition)} mostly decides \
**composition** (layout, pose) and {_stage_at(architecture, style)} mostly carries **style** \
(colour, texture, brush strokes). On {architecture.title} these are {places(architecture, composition)} and \
{places(architecture, style)}.

{diagram(architecture)}
**Presets.** *all*: every layer, as the original IP-Adapter (Ye et al., 2023). *style*: \
{" and ".join(architecture.stages_of(style))} only \
(the reference's look, not its layout); *composition*: {" and ".join(architecture.stages_of(composition))} \
only (its layout, not its look); \
*style+composition*: both, InstantStyle's choice. *none*: no layer. Other tools weigh other layers \
(ComfyUI's SD 1.5 "style transfer", for one): tick the boxes yourself to try them; {weighing}.

**The other knobs.** *IP start / end*: the part of the run, from 0 (first step) to 1 (last), in \
which the reference counts. Early steps settle the layout and late steps the detail, so end = 0.6 \
keeps the reference's layout and colours but lets the prompt finish the detail. *Guess mode* \
(ControlNet): the ControlNet guides only the prompted half of the guidance and trusts its deeper \
layers more, so it follows the control image even with an empty prompt (try CFG 3–5). *T2I factor*: \
the share of the steps, from the first, that get the T2I-Adapter's structure; 0.5 fixes the \
structure and leaves the detail free. *Style fidelity* (reference-only): 0 lets the prompt lead, 1 \
follows the reference's look most closely; 0.5 is the A1111 extension's default.
"""


EXPLAINER = explainer_text(DEFAULT_ARCHITECTURE)


def add_explainer(architectures: Sequence[Architecture] = (DEFAULT_ARCHITECTURE,)) -> None:
    """The explainer, folded: one click away from the layer grid it explains; one table per family the
    server runs."""
    with gr.Accordion("How IP-Adapter steers: what the layers do", open=False, elem_id="explainer"):
        for architecture in architectures:
            gr.Markdown(EXPLAINER if architecture == DEFAULT_ARCHITECTURE else explainer_text(architecture))

INPAINT_INTRO = (
    "**Inpaint**: redo part of a picture and keep the rest. Upload the picture, paint over the part to redo "
    "(white brush), then press Inpaint. The prompt, references and settings on this page apply as for "
    "Generate. The whole picture is redone at the output size, or with “Only masked” just the part around "
    "the painting, redone larger and put back (A1111's “Inpaint area”)."
)
INPAINT_EDITOR_LABEL = "Picture to inpaint"  # short: it shares the editor's top line with the toolbar
