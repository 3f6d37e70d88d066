"""The words that teach a newcomer: the page's introduction and "how IP-Adapter steers".

Plain words first, the technical names (``down2``, ``up_blocks.1``, 16²) second, so a reader can
match them with papers and other tools. Only the roles of down2 and up1 are a published finding
(InstantStyle); the other stages are described by the scale they work at, which is a fact.
"""

from __future__ import annotations

import gradio as gr

from ..ip_adapter.layers import STAGE_NAMES

# Stage -> (what it shapes, in words; its size at 512×512; where it sits in the UNet).
STAGE_ROLES: dict[str, tuple[str, str, str]] = {
    "down0": ("Fine detail, going in", "64²", "down_blocks.0"),
    "down1": ("Mid detail, going in", "32²", "down_blocks.1"),
    "down2": ("Composition: layout, pose", "16²", "down_blocks.2"),
    "mid": ("Whole picture", "8²", "mid_block"),
    "up1": ("Style: colour, texture", "16²", "up_blocks.1"),
    "up2": ("Mid detail, coming out", "32²", "up_blocks.2"),
    "up3": ("Fine detail, coming out", "64²", "up_blocks.3"),
}
assert tuple(STAGE_ROLES) == STAGE_NAMES  # the grid's rows follow this table


def stage_title(stage: str) -> str:
    """One row title of the layer grid: the role in words, the technical name below it."""
    role, size, _ = STAGE_ROLES[stage]
    return f"**{role}**<br><small>{stage} · {size}</small>"


INTRO = """\
## ipa_demo — Stable Diffusion 1.5 + IP-Adapter
Make a picture from a prompt **and a reference image**. **1.** Type a prompt. **2.** Add a reference \
image, or pick an example. **3.** Press **Generate**. The rest is optional; every PNG keeps its settings."""

_DIAGRAM = """\
| size | going in ↓ (encoder) | coming out ↑ (decoder) |
|---|---|---|
| 64×64 | **down0** · fine detail (L0–L1) | **up3** · fine detail (L13–L15) |
| 32×32 | **down1** · mid detail (L2–L3) | **up2** · mid detail (L10–L12) |
| 16×16 | **down2** · **composition** (L4–L5) | **up1** · **style** (L7–L9) |
| 8×8 | **mid** · the whole picture (L6) → | ↑ and back up |
"""

EXPLAINER = f"""\
**How IP-Adapter steers.** IP-Adapter reads your reference with a CLIP image encoder and turns it \
into a few *image tokens*. At every step the UNet, the network that turns noise into a picture, \
looks at your prompt's words in 16 places (its cross-attention layers, L0–L15); IP-Adapter adds a \
second look at the image tokens in each of them, weighted by **λ**. The UNet works on the picture \
at several sizes: it shrinks it (down the left column), works on the smallest version, then grows \
it back (up the right column). Which places get the reference decides what the picture takes from \
it: InstantStyle (Wang et al., 2024) found that the 16×16 stage going in (down2) mostly decides \
**composition** (layout, pose) and the 16×16 stage coming out (up1) mostly carries **style** \
(colour, texture, brush strokes). On SD 1.5 these are `down_blocks.2` and `up_blocks.1`.

{_DIAGRAM}
**Presets.** *all*: every layer, as the original IP-Adapter (Ye et al., 2023). *style*: up1 only \
(the reference's look, not its layout); *composition*: down2 only (its layout, not its look); \
*style+composition*: both, InstantStyle's choice. *none*: no layer. Other tools weigh other layers \
(ComfyUI's SD 1.5 "style transfer", for one): tick the boxes yourself to try them; the sliders \
weigh a whole stage.

**The other knobs.** *IP start / end*: the part of the run, from 0 (first step) to 1 (last), in \
which the reference counts. Early steps settle the layout and late steps the detail, so end = 0.6 \
keeps the reference's layout and colours but lets the prompt finish the detail. *Guess mode* \
(ControlNet): the ControlNet guides only the prompted half of the guidance and trusts its deeper \
layers more, so it follows the control image even with an empty prompt (try CFG 3–5). *T2I factor*: \
the share of the steps, from the first, that get the T2I-Adapter's structure; 0.5 fixes the \
structure and leaves the detail free. *Style fidelity* (reference-only): 0 lets the prompt lead, 1 \
follows the reference's look most closely; 0.5 is the A1111 extension's default.
"""


def add_explainer() -> None:
    """The explainer, folded: one click away from the layer grid it explains."""
    with gr.Accordion("How IP-Adapter steers: what the layers do", open=False, elem_id="explainer"):
        gr.Markdown(EXPLAINER)
