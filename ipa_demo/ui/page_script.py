"""Browser code the page runs once at load (``launch(js=...)``), for two gaps in Gradio 6.31's widgets.

- Accessibility: Gradio's empty-value placeholder (an empty gallery, image or file output) is a
  ``<div aria-label="Empty value">`` with no role, which ARIA forbids (axe: aria-prohibited-attr,
  serious). Each such placeholder, whenever one appears, gets ``role="img"``, so its label is read.
- No silent corrections: a slider's number box clamps what was typed to the slider's range when it
  loses focus (500 in Steps became 150 and ran 150 steps without a word). The clamp is the slider's
  own ``blur`` listener; a capturing listener on the window stops the blur before it reaches it. The
  typed value is kept, and the event's validator refuses it by the control's label, naming the limit.
- Keyboard: Ctrl+Enter (⌘+Enter) in the prompts presses Generate, as in other SD front ends; a
  multi-line Gradio textbox has no key that submits.
"""

from __future__ import annotations

PAGE_SCRIPT = """() => {
  const placeholders = 'div[aria-label="Empty value"]:not([role])';
  const name = () => document.querySelectorAll(placeholders).forEach(el => el.setAttribute('role', 'img'));
  new MutationObserver(name).observe(document.body, {childList: true, subtree: true});
  name();
  window.addEventListener('blur', event => {
    if (event.target instanceof HTMLInputElement && event.target.dataset.testid === 'number-input'
        && event.target.closest('.wrap')?.querySelector('input[type=range]')) {
      event.stopPropagation();
    }
  }, true);
  document.addEventListener('keydown', event => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)
        && event.target.closest?.('#prompt, #negative_prompt')) {
      event.preventDefault();
      document.getElementById('generate-button')?.click();
    }
  });
}"""
