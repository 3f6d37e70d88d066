"""Sizes in megabytes from IPA_* variables: one reader, one set of refusals naming the variable."""

from __future__ import annotations

import pytest

from ipa_demo.settings import SettingsError
from ipa_demo.settings.megabytes import MEGABYTE, megabytes


def test_given_then_the_variable_then_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IPA_TEST_MB", raising=False)
    assert megabytes("IPA_TEST_MB", 2.0) == 2 * MEGABYTE
    monkeypatch.setenv("IPA_TEST_MB", "0.5")
    assert megabytes("IPA_TEST_MB", 2.0) == MEGABYTE // 2
    assert megabytes("IPA_TEST_MB", 2.0, 3) == 3 * MEGABYTE
    assert megabytes("IPA_TEST_MB", 2.0, 1e-9) == 1  # a size is at least one byte


@pytest.mark.parametrize(("raw", "message"), [("lots", "must be a number of megabytes, got 'lots'"),
                                               ("0", "must be above 0, got '0'"), ("inf", "must be above 0"),
                                               ("nan", "must be above 0")])  # fmt: skip
def test_anything_but_a_number_above_zero_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, raw: str, message: str
) -> None:
    monkeypatch.setenv("IPA_TEST_MB", raw)
    with pytest.raises(SettingsError, match=f"IPA_TEST_MB: {message}"):
        megabytes("IPA_TEST_MB", 2.0)
