"""The page's layout rules, in CSS (Gradio's Rows and Columns cannot reorder by screen width).

Wide screens: controls on the left (prompt, references and examples first, then the folded
settings), results and the Generate/Compare buttons on the right. When the two columns stack (a
phone, a narrow window) the controls column dissolves (``display: contents``) so that its pieces
and the results can be ordered: prompt, references, examples, then the buttons and results, then
the settings. Generate is then one screen below the prompt instead of after every control.

Galleries: Gradio draws square thumbnails as wide as the box, so a single image in a short box
showed as a strip; and captions lay over the image. Here each thumbnail is at most as tall as its
box (``--thumb``, the gallery's ``height`` less its padding), the image is contained in it, and the
caption sits under the image.
"""

from __future__ import annotations

STACKED = "(max-width: 920px)"  # two 420 px columns and their gaps no longer fit side by side

_ORDER = f"""
#controls > * {{ order: 3; }}
#controls > .form:has(#prompt), #controls > #reference_images, #controls > #examples {{ order: 1; }}
@media {STACKED} {{
  #studio {{ flex-direction: column; flex-wrap: nowrap; align-items: stretch; }}
  #controls {{ display: contents; }}
  #results {{ order: 2; }}
  #examples .gallery {{ flex-wrap: nowrap; overflow-x: auto; }}  /* one row to swipe, not five */
  #examples button {{ flex: 0 0 auto; }}
}}
"""

_GALLERIES = """
#reference_images { --thumb: 120px; --thumb-min: 96px; --thumb-max: 120px; }
#output-gallery { --thumb: 300px; --thumb-min: 150px; --thumb-max: 1fr; }
#compare-gallery { --thumb: 236px; --thumb-min: 120px; --thumb-max: 1fr; }
#control-maps { --thumb: 128px; --thumb-min: 110px; --thumb-max: 1fr; }
:is(#reference_images, #output-gallery, #compare-gallery, #control-maps) .grid-container {
  grid-template-columns: repeat(auto-fit, minmax(min(var(--thumb-min), 100%), var(--thumb-max))) !important;
  grid-template-rows: none !important;
  grid-auto-rows: var(--thumb) !important;
}
:is(#reference_images, #output-gallery, #compare-gallery, #control-maps) .thumbnail-item {
  aspect-ratio: auto; height: var(--thumb); display: flex; flex-direction: column;
}
:is(#reference_images, #output-gallery, #compare-gallery, #control-maps) .thumbnail-item > img {
  flex: 1 1 0; min-height: 0; height: auto; object-fit: contain;
}
:is(#reference_images, #output-gallery, #compare-gallery, #control-maps) .caption-label {
  position: static; max-width: none; white-space: normal; border: 0; border-radius: 0; text-align: center;
}
#reference_images label.float { max-width: calc(100% - 96px); }
#reference_images label.float span { white-space: normal; }
#reference_images .upload-container { padding-top: 40px; }  /* below the label, which may take two lines */
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
/* Gradio lays an image's label over its top left, where these pictures have their axis and stage names. */
:is(#sweep-grid, #sweep-differences, #injection-maps) { padding-top: 40px; }
.error-box { background: var(--error-background-fill, #fef2f2); padding: 6px 10px; }
.error-box, .error-box p { color: var(--error-text-color, #b91c1c); }
"""

CSS = _ORDER + _GALLERIES + _CONTROLS
