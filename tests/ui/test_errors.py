"""What a failed request tells the user."""

from __future__ import annotations

import gradio as gr
import pytest

from ipa_demo.loop import GenerationCancelled
from ipa_demo.ui.errors import reported_errors


def test_a_run_stopped_by_a_cancel_naming_its_session_says_so() -> None:
    with pytest.raises(gr.Error) as caught, reported_errors("generating"):
        raise GenerationCancelled()
    assert caught.value.message.startswith("Stopped: a cancel request naming this session (its session_hash)")
    assert "Something went wrong" not in caught.value.message
