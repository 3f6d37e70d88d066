"""Further units in Chinese: every key a unit takes has its Chinese, and a refusal about a key reads in Chinese."""

from __future__ import annotations

import re

import pytest

from ipa_demo.settings.unit_keys import UNIT_KEYS, known_keys
from ipa_demo.settings.unit_names import UNIT_WORDS
from ipa_demo.ui.translation import localized
from ipa_demo.ui.zh_cn_units import UNIT_KEYS_ZH

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.mark.parametrize("kind", list(UNIT_KEYS))
def test_every_key_of_a_unit_has_its_chinese(kind: str) -> None:
    said = UNIT_KEYS_ZH[UNIT_WORDS[kind]]
    missing = [key for key in known_keys(kind) if key not in said]  # type: ignore[arg-type]
    assert not missing, f"add these {kind} unit keys to ui/zh_cn_units.py: {missing}"
    assert all(HAN.search(chinese) or chinese == "λ" for chinese in said.values())


@pytest.mark.parametrize("kind", list(UNIT_KEYS))
def test_a_refusal_about_any_key_names_it_in_chinese(kind: str) -> None:
    word = UNIT_WORDS[kind]
    for key in known_keys(kind):  # type: ignore[arg-type]
        english = f"{word} unit 4: {key}: must be between 0 and 1, got 2.0"
        chinese = localized(english, chinese=True)
        assert chinese == f"{word} 单元 4：{UNIT_KEYS_ZH[word][key]}：须在 0 到 1 之间，当前为 2.0", english
        assert localized(english, chinese=False) == english


def test_a_key_no_unit_takes_stays_as_given_in_a_chinese_sentence() -> None:
    english = "ControlNet unit 2: bogus: no such key for a controlnet unit; known: kind, scale"
    assert localized(english, chinese=True) == "ControlNet 单元 2：bogus：controlnet 单元没有这个键；可用的键：kind, scale"
