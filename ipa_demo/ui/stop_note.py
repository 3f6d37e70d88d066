"""What the page says after Stop, where the results would have been: "Stopped at step k of n".

A stopped run sends nothing more (Gradio closes its generator), so the note is written in the browser,
by the Stop button's own script, from the progress bar it is about to end (``k/n steps``), in the
language Gradio chose for the page. Starting the next run empties it.
"""

from __future__ import annotations

import json

import gradio as gr

from .zh_cn import ZH_CN



def stop_note(elem_id: str) -> gr.Markdown:
    """The (empty) note under a tab's buttons."""
    return gr.Markdown("", elem_id=elem_id, elem_classes=["stop-note"])


def stop_message(progress_root: str) -> str:
    """Browser code returning the note, from the progress shown over ``progress_root`` (a CSS selector)."""
    chinese = json.dumps(ZH_CN["Generate"], ensure_ascii=False)
    return f"""() => {{
  const shown = document.querySelector({json.dumps(progress_root)})?.closest('.block')?.innerText ?? '';
  const step = /(\\d+)\\s*\\/\\s*(\\d+)\\s*(?:steps?|步)/.exec(shown);
  const zh = document.getElementById('generate-button')?.textContent.trim() === {chinese};
  if (step) {{
    return zh ? `**已停止**：停在第 ${{step[1]}} 步（共 ${{step[2]}} 步），没有完成的图片。`
              : `**Stopped at step ${{step[1]}} of ${{step[2]}}.** No image was finished.`;
  }}
  return zh ? '**已停止**：在第一步之前停止，没有完成的图片。' : '**Stopped** before the first step. No image was finished.';
}}"""
