"""Further units in Simplified Chinese: the parts of a unit's form, and a refusal's unit key said as the
Chinese page labels that part (``ControlNet unit 2: scale: …`` -> ``ControlNet 单元 2：强度：…``)."""

from __future__ import annotations

import re

from ..architecture.layers import STAGE_NAMES
from ..settings.unit_keys import MAP_KEY
from ..settings.unit_names import UNIT_WORDS

# A unit form's label after "<unit>: " (``unit_controls``, ``reference_controls.Naming``).
UNIT_PARTS = {
    "kind": "类型", "image": "图像", "the image is already a map": "图像已是控制图",
    "region mask (white: acts)": "区域蒙版（白色处生效）", "scale": "强度", "start": "开始", "end": "结束",
    "factor": "作用步数比例", "reference image(s)": "参考图", "variant": "版本", "layers": "作用层", "λ": "λ",
    "weight curve": "权重曲线", "per-layer weights": "逐层权重", "per-layer weights grid": "逐层权重表",
    "several references": "多张参考图", "reference weights": "参考图权重", "region masks": "区域蒙版",
    "draw a mask": "画蒙版", "negative reference image": "反向参考图",
}  # fmt: skip

# Each unit key, as the Chinese form names its control (the API's and the CLI's keys have no control of their
# own for a few: the mask as bits, the stage weights, fit, soft injection).
_STRUCTURE_KEYS = {
    "kind": "类型", "scale": "强度", "start": "开始", "end": "结束", "factor": "作用步数比例", "soft": "柔和注入",
    MAP_KEY: "图像已是控制图", "image": "图像", "map": "现成的图", "mask": "区域蒙版",
}  # fmt: skip
_IP_KEYS = {
    "scale": "λ", "layers": "层蒙版", "start": "开始", "end": "结束", "variant": "版本", "fit": "非正方形参考图",
    "weights": "逐层权重", "reference-weight": "参考图权重", "combine": "多张参考图", "preset": "作用层",
    "curve": "权重曲线", "reference": "参考图", "mask": "区域蒙版", "negative": "反向参考图",
    **{f"stage-{stage}": f"{stage} 权重" for stage in STAGE_NAMES},
}  # fmt: skip
UNIT_KEYS_ZH: dict[str, dict[str, str]] = {
    UNIT_WORDS["ip"]: _IP_KEYS, UNIT_WORDS["controlnet"]: _STRUCTURE_KEYS, UNIT_WORDS["t2i"]: _STRUCTURE_KEYS,
}  # fmt: skip
_KEY_END = r"[:：] ?"  # the reason after the key already in Chinese, or not yet
# "ControlNet 单元 2: scale：…" -> "ControlNet 单元 2：强度：…", one pattern per kind and key; a key no unit
# takes stays as given.
UNIT_KEY_PATTERNS = (
    *((rf"\b{re.escape(word)} 单元 (\d+): {re.escape(key)}{_KEY_END}", rf"{word} 单元 \1：{said}：")
      for word, keys in UNIT_KEYS_ZH.items() for key, said in keys.items()),
    (rf"\b({'|'.join(re.escape(word) for word in UNIT_WORDS.values())}) 单元 (\d+): ([\w-]{{1,40}}){_KEY_END}",
     r"\1 单元 \2：\3："),
)  # fmt: skip

# The reasons only a unit's key is refused with (a unit form cannot send most of them; the API can).
UNIT_REASONS = (
    (r"：no such key for an? (ip|controlnet|t2i) unit; known: (.+)$", r"：\1 单元没有这个键；可用的键：\2"),
    (r"：given (\d+) times; give it once$", r"：给了 \1 次，只能给一次"),
    (r": a region mask is for ControlNet units only$", "：区域蒙版只用于 ControlNet 单元"),
)
