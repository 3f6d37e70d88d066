"""The one window rule every conditioner uses."""

from ipa_demo.windows import step_in_window


def test_step_window_follows_diffusers_controlnet_rule() -> None:
    assert [step_in_window(i, 10, 0.0, 1.0) for i in range(10)] == [True] * 10
    assert [step_in_window(i, 10, 0.0, 0.5) for i in range(10)] == [True] * 5 + [False] * 5
    assert [step_in_window(i, 10, 0.3, 0.6) for i in range(10)] == [False] * 3 + [True] * 3 + [False] * 4
    assert not any(step_in_window(i, 10, 0.4, 0.4) for i in range(10))
