"""The page in English and Simplified Chinese, through Gradio's ``gr.I18n`` (the browser's language picks).

The English text stays where it is written (``settings/declarations.py``, the layout, ``explainer``);
the Chinese is a table keyed by that English text (``zh_cn``). ``translate_page`` runs once the page is
built: each block's config, as sent to the browser, carries a translation key in place of every label,
hint, placeholder, button, tab and Markdown text that the table has, and the browser shows it in its own
language. The Python objects keep their English, so what the server says to API callers (the names in
its errors included) stays English. ``page_texts`` lists what a page shows, for the test that every
string has its Chinese.

Messages made per request (a refusal beside a button) are not in the config: ``localized`` puts them into
the language the browser asked for (``Accept-Language``), phrase by phrase (``zh_cn.MESSAGES``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr
from gradio.i18n import I18nData

from ..settings.declarations import BY_NAME
from .zh_cn import CELLS, GRADIO_ZH, MESSAGES, ZH_CN

CHINESE = "zh-CN"
RUNNING_ON = "Running on:"  # a Markdown that starts with a key and goes on with what the server says
_PREFIXES = (RUNNING_ON,)
I18N = gr.I18n(en={text: text for text in ZH_CN}, **{CHINESE: {**ZH_CN, **GRADIO_ZH}})
# Where Gradio leaves text as sent (a table's headers, the examples' names, a toast's title), this script puts
# in the Chinese, whenever it appears, once the page shows Generate's Chinese (so it follows the language Gradio
# chose).
CELLS_SCRIPT = f"""() => {{
  const cells = {json.dumps(CELLS, ensure_ascii=False)};
  const chosen = () => document.getElementById('generate-button')?.textContent.trim() === {json.dumps(ZH_CN["Generate"], ensure_ascii=False)};
  const swap = () => {{
    if (!chosen()) return;
    for (const root of document.querySelectorAll('#examples, #compare-table, #sweep-table, .toast-title')) {{
      const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {{
        const text = node.textContent.trim();
        if (text in cells) node.textContent = cells[text];
      }}
    }}
  }};
  new MutationObserver(swap).observe(document.body, {{childList: true, subtree: true, characterData: true}});
  swap();
}}"""
_TEXT_PROPS = ("label", "info", "placeholder")  # and the value of Markdown and Button
_VALUE_TEXT = (gr.Markdown, gr.Button)
# What reads the same in Chinese: names of models, map kinds and samplers (as Chinese SD users write them),
# the layers (L0 …), the empty choice.
_NAMED_CHOICES = ("ip_variant", "ip2_variant", "controlnet", "t2i", "ref_only", "scheduler")
KEPT_AS_WRITTEN = frozenset(
    {"IP-Adapter", "ControlNet", "T2I-Adapter", "—", "1, 0.5, …"}
    | {choice for name in _NAMED_CHOICES for choice in BY_NAME[name].choices if choice not in ZH_CN}
)
_LAYER = re.compile(r"L\d+")
_I18N_TEXT = "__i18n__"  # how an I18nData travels inside a text (a Markdown's or a button's value)
_CHINESE_FIRST = re.compile(r"^\s*zh\b(?!-(?:TW|HK|MO|Hant))", re.IGNORECASE)


def page_script(script: str) -> str:
    """``script`` (a page's ``js``) and then ``CELLS_SCRIPT``, as one function."""
    return f"() => {{ ({script})(); ({CELLS_SCRIPT})(); }}"


def translate_page(demo: gr.Blocks) -> None:
    """Every block of ``demo`` sends its texts as translation keys (call once the page is built); the
    API's description keeps the English (it is read by programs and their authors, not the page)."""
    for block in demo.blocks.values():
        block.get_config = _with_keys(block.get_config)  # type: ignore[method-assign]
    api_info = demo.get_api_info

    @functools.wraps(api_info)
    def english_api_info(*args: Any, **kwargs: Any) -> Any:
        return _in_english(api_info(*args, **kwargs))

    demo.get_api_info = english_api_info  # type: ignore[method-assign]


def english(value: Any) -> Any:
    """The English text a config value stands for: a translation key's text, else the value itself."""
    if isinstance(value, I18nData):
        return value.key
    if isinstance(value, dict) and "translation_metadata" in (value.get("_type"), value.get("__type__")):
        return value.get("key")
    if isinstance(value, str) and value.startswith(_I18N_TEXT):
        try:
            return json.loads(value.removeprefix(_I18N_TEXT))["key"]
        except (ValueError, KeyError, TypeError):
            return value
    return value


def _in_english(found: Any) -> Any:
    if isinstance(found, dict):
        plain = english(found)
        return plain if plain is not found else {key: _in_english(item) for key, item in found.items()}
    if isinstance(found, list):
        return [_in_english(item) for item in found]
    return english(found)


def _with_keys(config_of: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    @functools.wraps(config_of)
    def config(*args: Any, **kwargs: Any) -> dict[str, Any]:
        found = config_of(*args, **kwargs)
        for prop in _TEXT_PROPS:
            if isinstance(found.get(prop), str) and found[prop] in ZH_CN:
                found[prop] = I18N(found[prop])
        value = found.get("value")
        if found.get("name") in ("markdown", "button") and isinstance(value, str):
            found["value"] = _keyed(value)
        return found

    return config


def _keyed(text: str) -> str:
    """The text as the browser translates it: a key, or a key then the rest (Gradio translates one key)."""
    if text in ZH_CN:
        return str(I18N(text))
    prefix = next((prefix for prefix in _PREFIXES if text.startswith(prefix)), None)
    return str(I18N(prefix)) + text[len(prefix) :] if prefix else text


def page_texts(demo: gr.Blocks) -> Iterator[str]:
    """Each text the page shows as written in English: labels, hints, placeholders, Markdown, buttons,
    and the choices of radios and dropdowns (the browser looks those up by their text)."""
    for block in demo.blocks.values():
        for prop in _TEXT_PROPS:
            text = getattr(block, prop, None)
            if isinstance(text, str) and text.strip():
                yield text
        if isinstance(block, _VALUE_TEXT) and isinstance(block.value, str) and block.value.strip():
            yield next((prefix for prefix in _PREFIXES if block.value.startswith(prefix)), block.value)
        for choice in getattr(block, "choices", None) or ():
            shown = choice[0] if isinstance(choice, (tuple, list)) else choice
            if isinstance(shown, str) and shown.strip():
                yield shown


def kept_as_written(text: str) -> bool:
    """Whether ``text`` stays as it is on the Chinese page (a name, not words)."""
    return text in KEPT_AS_WRITTEN or bool(_LAYER.fullmatch(text))


def wants_chinese(request: gr.Request | None) -> bool:
    """Whether the browser that sent ``request`` puts Simplified Chinese first."""
    headers = getattr(request, "headers", None)
    languages = headers.get("accept-language", "") if headers is not None else ""
    return bool(_CHINESE_FIRST.match(languages))


def localized(message: str, chinese: bool) -> str:
    """``message`` in Chinese when ``chinese``: each known phrase replaced (``zh_cn.MESSAGES``), in order."""
    if not chinese:
        return message
    for pattern, replacement in MESSAGES:
        message = pattern.sub(replacement, message)
    return message


def localized_reason(reason: str, chinese: bool) -> str:
    """A reason alone (the note beside a control, after its label) in the page's language."""
    if not chinese:
        return reason
    said = localized(f": {reason}", chinese)
    return said.removeprefix("：").removeprefix(": ")


def label_in(text: str, chinese: bool) -> str:
    """A control's label (or short name) as the page shows it in that language."""
    return ZH_CN.get(text, text) if chinese else text
