"""What the page tells a user at the button they pressed: errors by control label, and "busy".

Gradio's validator marks the bad control, which is often far off-screen or inside a closed
accordion, so Generate seems to do nothing. A second, private event on the same click checks the
same request and, if it is bad, writes the message next to the button, opens the accordion that
holds the control and raises it as a toast. The busy button is greyed out from the run's first
yield until its end (success, error or Stop); a request the validator refuses never starts, so it
never greys the button.

Events whose errors the user must see are queued: in Gradio 6.31 an unqueued event that raises
shows nothing on the page.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..settings import SettingsError
from ..settings.values import param_for_field
from .components import HELPER
from .errors import user_error
from .translation import label_in, localized, wants_chinese

# Private helper events that can fail: queued, so that their error becomes a toast.
# Each flagged accordion opened, the others left as they are (a js-only event: no loading status).
OPEN_FLAGGED = """(...flags) => {
  const updates = flags.map(flag => flag ? {__type__: 'update', open: true} : {__type__: 'update'});
  return updates.length === 1 ? updates[0] : updates;
}"""
QUEUED_HELPER: dict[str, Any] = {"queue": True, "show_progress": "hidden", "api_visibility": "private"}
_API_NAME = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b")  # ip_scale, control_image; not plain words


_SHORT_AT = re.compile(r" — | \(|: |——|（|：")  # where a label's explanation starts, in English or Chinese
_SHORTEST = 3  # "λ" alone says less than "λ (image prompt weight)"


@dataclass(frozen=True)
class Place:
    """Where a control is on the page: its short name and the accordion around it, if any (and both as
    the Chinese page says them)."""

    label: str
    accordion: gr.Accordion | None
    label_zh: str = ""
    accordion_zh: str = ""

    def named(self, chinese: bool) -> tuple[str, str | None]:
        """The control's name and its accordion's title, in the page's language."""
        title = None if self.accordion is None else str(self.accordion.label)
        if not chinese:
            return self.label, title
        return self.label_zh or self.label, (self.accordion_zh or title) if title is not None else None


def short_name(label: str) -> str:
    """A label up to its explanation: "Reference image(s) — several are averaged …" is "Reference image(s)"."""
    head = _SHORT_AT.split(label, maxsplit=1)[0].strip()
    return head if len(head) >= _SHORTEST else label


def _short_names(labels: Mapping[str, str]) -> dict[str, str]:
    """Each label's short name, or the whole label where two would read the same."""
    short = {name: short_name(label) for name, label in labels.items()}
    taken = [value for value in short.values()]
    return {name: value if taken.count(value) == 1 else labels[name] for name, value in short.items()}


def _accordion_of(component: Any) -> gr.Accordion | None:
    block = getattr(component, "parent", None)
    while block is not None and not isinstance(block, gr.Accordion):
        block = getattr(block, "parent", None)
    return block


def places_of(fields: Mapping[str, Any]) -> dict[str, Place]:
    """Each API parameter's place, named shortly; call after the layout is built (parents are set on exit)."""
    labels = {name: str(component.label or name) for name, component in fields.items()}
    short = _short_names(labels)
    short_zh = _short_names({name: label_in(label, chinese=True) for name, label in labels.items()})
    places = {}
    for name, component in fields.items():
        accordion = _accordion_of(component)
        title_zh = label_in(str(accordion.label), chinese=True) if accordion is not None else ""
        places[name] = Place(short[name], accordion, short_zh[name], title_zh)
    return places


def in_words(error: SettingsError, places: Mapping[str, Place], chinese: bool = False) -> tuple[str, str | None]:
    """The message a user reads, naming controls by their short names; and the parameter it is about.
    ``chinese``: as the Chinese page says it (its names, and the phrases ``translation`` knows)."""
    param = error.field if error.field in places else param_for_field(error.field)
    reason = str(error).removeprefix(f"{error.field}: ")
    reason = _API_NAME.sub(lambda match: _label(match.group(0), places, chinese), reason)
    if param is None:
        return localized(reason, chinese), None
    label, title = places[param].named(chinese)
    where = f" (under “{title}”)" if title is not None else ""
    return localized(f"{label}{where}: {reason}", chinese), param


def _label(name: str, places: Mapping[str, Place], chinese: bool) -> str:
    return f"“{places[name].named(chinese)[0]}”" if name in places else name


def error_box(elem_id: str) -> gr.Markdown:
    """The empty, hidden box beside a button where a refused request is explained."""
    return gr.Markdown("", visible=False, elem_id=elem_id, elem_classes=["error-box"])


def scroll_into_view(box: gr.Markdown) -> str:
    """Browser code that brings the box into view, scrolling as little as possible (hidden: no-op).

    It runs on the box's change, a moment later, once the page has drawn the new message.
    """
    element = f"document.getElementById({box.elem_id!r})"
    return f"() => {{ setTimeout(() => {element}?.scrollIntoView({{block: 'nearest'}}), 100); }}"


def request_check(
    check: Callable[[dict[str, Any]], SettingsError | None], places: Mapping[str, Place]
) -> tuple[Callable[..., Iterator[list[Any]]], list[Any], Callable[[Any], None]]:
    """The event function that explains a refused request; its outputs after the box (one hidden flag per
    accordion: open the one that holds the refused control); and what opens the flagged accordions after
    the check's ``event``. The page opens them, so no accordion is a server event's output: Gradio 6.31
    asks every component inside such an output for its value on each later status message, and a shown
    ImageEditor inside answers by uploading its canvas anew (see ``editor_copy``)."""
    accordions = list({id(p.accordion): p.accordion for p in places.values() if p.accordion is not None}.values())
    flags = [gr.Checkbox(False, visible=False) for _ in accordions]

    def explain(gradio_request: gr.Request | None = None, **values: Any) -> Iterator[list[Any]]:
        error = check(values)
        if error is None:
            yield [gr.update(value="", visible=False), *(False for _ in accordions)]
            return
        chinese = wants_chinese(gradio_request)  # this private event answers the page only
        message, param = in_words(error, places, chinese)
        holder = places[param].accordion if param else None
        # Emptied first, so that the same message twice is still a change (which scrolls it into view).
        yield [gr.update(value="", visible=False), *(False for _ in accordions)]
        yield [
            gr.update(value=localized(f"**Not started.** {message}", chinese), visible=True),
            *(accordion is holder for accordion in accordions),
        ]
        raise user_error(message)

    def open_flagged(event: Any) -> None:
        if accordions:
            event.then(None, js=OPEN_FLAGGED, inputs=flags, outputs=accordions, **HELPER)

    return explain, flags, open_flagged


def busy_while_running(handler: Callable[..., Iterator[tuple[Any, ...]]], width: int) -> Callable[..., Any]:
    """``handler`` with one more output, its button: disabled by the first yield.

    The signature stays the handler's (Gradio reads it for ``gr.Progress`` and the keyword inputs).
    The button is a ``gr.Button``, which API clients never see among the outputs.
    """

    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Iterator[tuple[Any, ...]]:
        yield (*(gr.skip() for _ in range(width)), gr.update(interactive=False))
        inner = handler(*args, **kwargs)
        try:
            for outputs in inner:
                yield (*outputs, gr.skip())
        finally:
            inner.close()  # Stop closes us at a yield: pass it on, so the engine stops too

    return run


def enable() -> Any:
    return gr.update(interactive=True)
