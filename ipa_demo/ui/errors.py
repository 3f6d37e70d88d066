"""What a web user is told when a request fails: their own mistake in words, anything else in general.

The errors a user can fix (bad settings or images, missing or broken models, out of memory) reach
the page and the API caller with their message. Any other exception is a bug or a server fault:
its traceback goes to the server log and the caller gets a fixed message, so no stack, path or
library detail leaks. Gradio renders ``gr.Error`` messages as HTML; ours may quote user input (a
value, a PNG's text), so they are escaped to show as typed.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import gradio as gr

from ..errors import CheckpointError, MissingModelError, ModelLoadError, OutOfMemoryError
from ..images import ImageInputError
from ..loop import GenerationCancelled
from ..settings import SettingsError
from ..settings.declarations import label_of

USER_ERRORS: tuple[type[Exception], ...] = (
    SettingsError,
    ImageInputError,
    MissingModelError,
    ModelLoadError,
    CheckpointError,
    OutOfMemoryError,
)
STOPPED = (
    "Stopped: a cancel request naming this session (its session_hash) stopped the run before it finished."
)
INTERNAL_ERROR = (
    "Something went wrong on the server while {action}. Try again; if it keeps happening, tell the app's "
    "maintainers (the details are in the server's log)."
)

log = logging.getLogger("ipa_demo.ui")


def user_error(message: str) -> gr.Error:
    """A ``gr.Error`` showing ``message`` as plain text; no server traceback (the user's to fix)."""
    return gr.Error(html.escape(message, quote=False), print_exception=False)


def described(error: SettingsError) -> str:
    """A settings error as the page says it: naming the control by its label."""
    return f"{label_of(error.field)}: {error.reason}"


def internal_error(action: str) -> gr.Error:
    return gr.Error(INTERNAL_ERROR.format(action=action), print_exception=False)


@contextmanager
def reported_errors(action: str) -> Iterator[None]:
    """Turn what the block raises into the ``gr.Error`` the user should see; ``action`` says what failed."""
    try:
        yield
    except gr.Error:
        raise
    except SettingsError as error:
        raise user_error(described(error)) from None
    except GenerationCancelled:  # a cancel that named the session, not the event Gradio was running
        raise user_error(STOPPED) from None
    except USER_ERRORS as error:
        raise user_error(str(error)) from None
    except Exception:
        log.exception("unexpected error while %s", action)
        raise internal_error(action) from None
