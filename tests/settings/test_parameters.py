"""Settings -> PNG parameters text -> settings, for any settings the declarations allow (a property test)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ipa_demo.architecture.lengths import MASK_LENGTHS
from ipa_demo.settings import GenerationSettings, SettingsError
from ipa_demo.settings.declarations import SETTINGS, Setting
from ipa_demo.settings.parameters import format_parameters, settings_from_parameters
from ipa_demo.settings.values import settings_from_values, values_from_settings

DEFAULTS = values_from_settings(GenerationSettings(prompt=""))
# What would make a part not act, so that its keys are left out of the text on purpose: the round trip
# wants every part to act (the property test of the text alone, below, takes any values).
INACTIVE = ("none", "off")
ACTING = ("strength", "controlnet_scale", "t2i_scale", "t2i_factor", "ref_weight")  # 0 turns the part off
ACTING_WINDOWS = ("controlnet_start", "ref_start")  # an empty window too
WINDOWS = (("ip_start", "ip_end"), ("ip2_start", "ip2_end"), ("controlnet_start", "controlnet_end"),
           ("ref_start", "ref_end"), ("canny_low", "canny_high"))  # fmt: skip


def thousandths(low: float, high: float) -> st.SearchStrategy[float]:
    """Numbers a user types or a slider gives (the text writes them with 6 significant digits, as A1111)."""
    return st.integers(round(low * 1000), round(high * 1000)).map(lambda count: count / 1000)


# A base model is named by its folder or file (the server refuses any other name), never by blank-edged text.
MODEL_NAMES = st.just("") | st.from_regex(r"[\w.-]([\w .-]{0,30}[\w.-])?", fullmatch=True)


def value_of(setting: Setting) -> st.SearchStrategy[Any]:
    if setting.name == "base_model":
        return MODEL_NAMES
    if setting.kind == "text":
        return st.text(max_size=60)
    if setting.kind == "flag":
        return st.booleans()
    if setting.kind == "choice":
        return st.sampled_from([choice for choice in setting.choices if choice not in INACTIVE])
    if setting.kind == "mask":
        return st.sampled_from(MASK_LENGTHS).flatmap(lambda length: st.text("01", min_size=length, max_size=length))
    assert setting.low is not None and setting.high is not None
    if setting.kind == "int":
        step = int(setting.step or 1)
        return st.integers(0, int(setting.high - setting.low) // step).map(lambda n: int(setting.low) + n * step)
    numbers = thousandths(setting.low, setting.high)
    if setting.kind == "floats":
        if setting.counts:  # any model's count: SD 1.5's 16, SDXL's 11 or 70
            return st.sampled_from(setting.counts).flatmap(lambda n: st.lists(numbers, min_size=n, max_size=n).map(tuple))
        return st.lists(numbers, max_size=4).map(tuple)
    if setting.name in ACTING:
        return thousandths(0.001, setting.high)
    return numbers


@st.composite
def any_settings(draw: st.DrawFn) -> GenerationSettings:
    values = {setting.name: draw(value_of(setting)) for setting in SETTINGS}
    values["width"], values["height"] = (draw(st.integers(8, 128)) * 8 for _ in range(2))
    for first, last in WINDOWS:
        values[first], values[last] = sorted((values[first], values[last]))
        assume(first not in ACTING_WINDOWS or values[first] < values[last])
    try:
        return settings_from_values(values, seed=values["seed"])
    except SettingsError:
        assume(False)
        raise


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_settings())
def test_parameters_text_parameters_round_trips(original: GenerationSettings) -> None:
    text = format_parameters(original, original.seed, ip_used=True, ip2_used=True, img2img=True)
    expected = replace(original, num_images=1)  # a PNG is one image of its batch
    edges = "canny" in (original.controlnet.kind, original.t2i.kind) and not original.control_is_map
    if not edges:  # the canny thresholds act, and are written, only where edges are detected
        expected = replace(expected, canny_low=DEFAULTS["canny_low"], canny_high=DEFAULTS["canny_high"])
    assert settings_from_parameters(text) == expected, text
