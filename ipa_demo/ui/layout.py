"""The page's layout rules, in CSS.

The page is built in reading order, which is also the keyboard's: what a newcomer fills in
(prompt, references, examples: ``#controls``), the Generate/Compare/Explore tabs with their
buttons and results (``#results``), then the folded settings (``#settings``). That is the phone
layout as it is. On a wide screen a grid puts the results column on the right, beside both, and
keeps it in view (sticky, scrolling on its own when taller than the window) while the settings
scroll: Generate, its progress and its images stay on screen at "Sampling", 2,500 px down.

Galleries: Gradio draws square thumbnails as wide as the box, so a single image in a short box
showed as a strip; and captions lay over the image. Here each thumbnail is at most as tall as its
box (``--thumb``, the gallery's ``height`` less its padding), the image is contained in it, and the
caption sits under the image.
"""

from __future__ import annotations

WIDE = "(min-width: 921px)"  # two 420 px columns and their gaps fit side by side

_ORDER = f"""
@media {WIDE} {{
  #studio {{
    display: grid; grid-template-columns: minmax(0, 5fr) minmax(0, 6fr); grid-template-rows: auto 1fr;
    align-items: start;
  }}
  #controls {{ grid-column: 1; grid-row: 1; }}
  #settings {{ grid-column: 1; grid-row: 2; }}
  #results {{
    grid-column: 2; grid-row: 1 / span 2; position: sticky; top: 0; align-self: start;
    max-height: 100vh; overflow-y: auto; overscroll-behavior: contain;
  }}
}}
"""

_STICKY = ".gradio-container:has(#studio) { overflow: clip; }  /* Gradio's hidden stops the column sticking */\n"

_GALLERIES = """
#reference_images { --thumb: 120px; --thumb-min: 96px; --thumb-max: 120px; }
#output-gallery, #inpaint-gallery { --thumb: 300px; --thumb-min: 150px; --thumb-max: 1fr; }
#compare-gallery { --thumb: 236px; --thumb-min: 120px; --thumb-max: 1fr; }
#control-maps { --thumb: 128px; --thumb-min: 110px; --thumb-max: 1fr; }
:is(#reference_images, #output-gallery, #inpaint-gallery, #compare-gallery, #control-maps) .grid-container {
  grid-template-columns: repeat(auto-fit, minmax(min(var(--thumb-min), 100%), var(--thumb-max))) !important;
  grid-template-rows: none !important;
  grid-auto-rows: var(--thumb) !important;
}
:is(#reference_images, #output-gallery, #inpaint-gallery, #compare-gallery, #control-maps) .thumbnail-item {
  aspect-ratio: auto; height: var(--thumb); display: flex; flex-direction: column;
}
:is(#reference_images, #output-gallery, #inpaint-gallery, #compare-gallery, #control-maps) .thumbnail-item > img {
  flex: 1 1 0; min-height: 0; height: auto; object-fit: contain;
}
:is(#reference_images, #output-gallery, #inpaint-gallery, #compare-gallery, #control-maps) .caption-label {
  position: static; max-width: none; white-space: normal; border: 0; border-radius: 0; text-align: center;
}
"""

# Gradio lays an image's, gallery's or file's label over the top left of its picture, where it hid the
# top of a reference (most of a tall one on a phone) and was cut short by the image's toolbar; and a
# refused value's note over the label. Here the label is a heading above the picture, wrapped whole,
# and the note is a line above it, in the flow. A slider's track shrinks so that its maximum is read whole.
# Not in an image editor: its canvas maps the pointer from where Gradio placed it, and with the label moved
# into the flow a painted stroke missed the image (the mask came back with no layer).
_UNCOVERED = """
.block:not(:has(.pixi-target)) label[data-testid="block-label"].float {
  position: static; margin: var(--block-label-margin); max-width: calc(100% - 2 * var(--block-label-margin));
  white-space: normal;
}
.block:not(:has(.pixi-target)):has(label[data-testid="block-label"].float) { height: auto !important; }
.block:has(.pixi-target) > .image-container { height: 300px; }  /* an editor's canvas fills its container */
.block .image-container { position: relative; }  /* its toolbar and canvas, below the label */
.block .wrap.full:has(> .validation-error) { position: static !important; height: auto; padding: 0; background: none; }
.block .wrap.full > .validation-error { position: static; width: 100%; }
.block [data-testid="upload-text"] { flex-wrap: wrap; justify-content: center; min-height: 0; padding-block: var(--size-4); }
.block [data-testid="upload-text"] * { white-space: normal; overflow: visible; text-overflow: clip; }
.slider_input_container input[type=range] { min-width: 0; flex: 1 1 0; }
.slider_input_container :is(.min_value, .max_value) { flex: none; }
/* Chinese breaks between any two characters: unheld, a slider's label shrank to one character a line
   beside its number box in a row of three; held at 6em, the box goes below it, as English's does. */
.head:has(> .tab-like-container) > label { min-width: min(6em, 100%); }
"""

_CONTROLS = """
#layer-grid .stage-row { align-items: center; gap: 6px; }
#layer-grid .stage-title { flex: 0 0 108px !important; min-width: 108px !important; }
#layer-grid .stage-title p { margin: 0; line-height: 1.2; font-size: var(--text-sm); }
#layer-grid .stage-toggles { gap: 4px; flex-wrap: nowrap; }
#layer-grid .stage-toggles > * { min-width: 54px !important; }
#layer-grid .stage-title small { opacity: 0.75; }
.form:has(#steps) { flex-wrap: wrap; }
.form:has(#steps) > :last-child { flex: 1 1 100% !important; }  /* the sampler on its own line, whole */
#explainer table { font-size: var(--text-sm); }
#explainer td:first-child, #explainer th:first-child { white-space: nowrap; }
#used-seed input { font-weight: 600; }
#examples button { padding: 2px 10px; font-size: var(--text-sm); }
.error-box { background: var(--error-background-fill, #fef2f2); padding: 6px 10px; }
.error-box, .error-box p { color: var(--error-text-color, #b91c1c); }
.stop-note:not(:has(p)) { display: none; }  /* empty until a Stop */
/* Four tabs in one row on a phone (they wrap rather than hide in a menu when they cannot). */
#results .tab-container button[role="tab"] { padding-inline: var(--size-2); }
"""

# WCAG 2.1 AA beyond the theme's colours (``app.THEME``): the accent has no dark variant in Gradio's
# theme, and indigo-600 on the dark page is 3:1; every control shows where the keyboard is.
_ACCESSIBLE = """
.dark { --color-accent: var(--primary-400); }
:focus-visible { outline: 2px solid var(--color-accent) !important; outline-offset: 2px; }
"""

# The Inpaint tab's editor: its label wraps before the toolbar (about 190 px) that shares its top line.
_INPAINT = '#inpaint_image label[data-testid="block-label"] { max-width: calc(100% - 210px); white-space: normal; }\n'

# Gradio's readout above a progress bar ("5/20 steps | 0.1s") restarts its timer at each yield of a run: hidden
# while the bar shows, whose text (``runner.Readout``) has the steps and the seconds since the run began. The
# queue's "queue: 2/3 | 1.2s" (no bar yet) stays.
_PROGRESS = ".progress-text.meta-text:has(+ .progress-level) { display: none; }\n"

CSS = _ORDER + _STICKY + _GALLERIES + _UNCOVERED + _CONTROLS + _ACCESSIBLE + _INPAINT + _PROGRESS
