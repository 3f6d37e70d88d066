"""What "Load settings from a PNG" tells the user: which settings came back, and what a PNG cannot hold.

A PNG's ``parameters`` text holds settings, not the images a run used: its reference, init and control
images are not in it, so loading one leaves those controls as they were. The summary says so, and lists
the settings the text gave (by the page's labels, shortly), before the text itself.
"""

from __future__ import annotations

from ..mask_note import MASK_BLUR_KEY
from ..settings.declarations import PACKED_KEYS, SETTINGS
from ..settings.parameters import ParsedParameters
from .feedback import short_name
from .translation import label_in, localized

NOT_IN_A_PNG = (
    "Reference images are not stored in a PNG (nor the init, control or negative reference image): "
    "the ones on the page stay; add the right ones again."
)

NOT_IN_A_PNG_ZH = "参考图不会保存在 PNG 中（初始图、控制图和反向参考图也不会）：页面上的图片保持不变，请重新添加需要的图片。"


def came_back(parsed: ParsedParameters, chinese: bool = False) -> list[str]:
    """The short labels of the settings the PNG's text gave values for, in the page's order (and language)."""
    packed = {name: packed.key for packed in PACKED_KEYS for name in packed.names}
    given = {"prompt": bool(parsed.prompt), "negative_prompt": bool(parsed.negative_prompt)}
    labels = [
        label_in(setting.label, chinese)
        for setting in SETTINGS
        if given.get(setting.name) or (setting.png or packed.get(setting.name)) in parsed.pairs
    ]
    if MASK_BLUR_KEY in parsed.pairs:  # the Inpaint tab's own control, not a setting of the request
        labels.append(label_in(MASK_BLUR_KEY, chinese))
    return list(dict.fromkeys(short_name(label) for label in labels))


def summary(parsed: ParsedParameters, text: str, notes: list[str], chinese: bool = False) -> str:
    """The "Parameters found" box: the settings that came back, what did not, notes, then the text."""
    found = came_back(parsed, chinese)
    if chinese:
        lines = [f"已载入 {len(found)} 项设置：{'、'.join(found)}。", NOT_IN_A_PNG_ZH]
        lines += [f"注意：{localized(note, chinese)}。" for note in notes]
    else:
        lines = [f"Loaded {len(found)} settings: {', '.join(found)}.", NOT_IN_A_PNG, *(f"Note: {note}." for note in notes)]
    return "\n".join([*lines, "", text])
