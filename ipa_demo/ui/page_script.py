"""Browser code the page runs once at load (``launch(js=...)``), for two gaps in Gradio 6.31's widgets.

- Accessibility: Gradio's empty-value placeholder (an empty gallery, image or file output) is a
  ``<div aria-label="Empty value">`` with no role, which ARIA forbids (axe: aria-prohibited-attr,
  serious). Each such placeholder, whenever one appears, gets ``role="img"``, so its label is read.
- No silent corrections: a slider's number box clamps what was typed to the slider's range when it
  loses focus (500 in Steps became 150 and ran 150 steps without a word). The clamp is the slider's
  own ``blur`` listener; a capturing listener on the window stops the blur before it reaches it. The
  typed value is kept, and the event's validator refuses it by the control's label, naming the limit.
- Image editors: an editor builds its drawing surface (two PixiJS canvases) only when first shown,
  and a picture dropped or chosen before that is lost with a page error, leaving the editor unable
  to take a picture until the page is reloaded (on a busy machine, half a second or more after the
  Inpaint tab is opened). Such a file waits, and is handed to the editor once both canvases are in.
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
  const editorOf = element => {
    const block = element?.closest?.('.block');
    return block?.querySelector('.pixi-target') ? block : null;
  };
  const surfaceMissing = editor => !editor.querySelector('.pixi-target canvas')
    || !editor.querySelector('.pixi-target-crop canvas');
  const handedOver = new WeakSet();
  const handOver = (editor, files, since = performance.now()) => {
    if (surfaceMissing(editor) && performance.now() - since < 60000) {  // a browser without WebGL never builds it
      setTimeout(() => handOver(editor, files, since), 50);
      return;
    }
    const input = editor.querySelector('input[type=file]');
    const transfer = new DataTransfer();
    files.forEach(file => transfer.items.add(file));
    input.files = transfer.files;
    const change = new Event('change', {bubbles: true});
    handedOver.add(change);
    requestAnimationFrame(() => input.dispatchEvent(change));
  };
  const holdUntilDrawable = (event, files) => {
    const editor = editorOf(event.target);
    if (!editor || handedOver.has(event) || !surfaceMissing(editor) || !files?.length) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    handOver(editor, [...files]);  // read now: a drop's files are gone once its event ends
  };
  document.addEventListener('change', event => {
    if (event.target instanceof HTMLInputElement && event.target.type === 'file') holdUntilDrawable(event, event.target.files);
  }, true);
  document.addEventListener('drop', event => holdUntilDrawable(event, event.dataTransfer?.files), true);
  document.addEventListener('keydown', event => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)
        && event.target.closest?.('#prompt, #negative_prompt')) {
      event.preventDefault();
      document.getElementById('generate-button')?.click();
    }
  });
}"""
