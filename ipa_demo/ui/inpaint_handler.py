"""The Inpaint tab's event: the picture and mask painted on its editor, with the page's other settings.

The tab's three inputs stand in for the img2img section's: its editor's background is the init image
and what is painted on it the mask (``init_image`` and ``mask_image`` of the other settings are not
read), its strength slider is ``strength``; ``mask_blur`` blurs the painted mask as A1111 does
(``mask_note``), and the result is pasted back over the picture through that soft mask, as A1111
does. Everything else (prompt, references, ControlNet, sampling) comes from the page's
controls as Generate reads them, through the same checks (``Handlers.request_from``). Errors name the
tab's controls by their labels (``places``). The bar shows the step and the percentage done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import gradio as gr

from ..mask_note import blurred_mask, check_mask_blur, mask_pairs, pasted_over, with_mask_note
from ..settings import SettingsError
from ..settings.values import PARAMS
from .errors import reported_errors, user_error
from .feedback import Place, in_words
from .fields import Request
from .handlers import Handlers, follow
from .outputs import seed_caption, with_warnings

EDITOR, BLUR, STRENGTH = "inpaint_image", "mask_blur", "inpaint_strength"
TAB_INPUTS = (EDITOR, BLUR, STRENGTH)
# The settings the tab's own controls stand for: an error about one of them names the tab's control.
STANDS_FOR = {"init_image": EDITOR, "mask_image": EDITOR, "strength": STRENGTH}
INPAINT_OUTPUTS = 3  # gallery, seed used, parameters text
NOTHING_PAINTED = "nothing is painted yet: paint over the part of the picture to redo"
NO_PICTURE = "upload the picture to inpaint first, then paint over the part to redo"


def percent_label(action: str) -> Callable[[tuple[int, int]], str]:
    """The bar's text at a step: ``action`` and the share of the steps done, in percent."""

    def label(step: tuple[int, int]) -> str:
        done, total = step
        return f"{action} · {round(100 * done / total) if total else 0}%"

    return label


def _part(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else getattr(value, key, None)


class Inpainter:
    """Turns the tab's values into a request and runs it, as Generate does; ``places``: every input's label."""

    def __init__(self, handlers: Handlers, places: Mapping[str, Place]) -> None:
        self.handlers = handlers
        self.places = places

    def request(self, values: Mapping[str, Any]) -> tuple[Request, int]:
        """The checked request (its mask blurred) and the blur, or ``SettingsError`` naming a control."""
        try:
            blur = check_mask_blur(values.get(BLUR), BLUR)
        except ValueError as error:
            raise SettingsError(BLUR, str(error).removeprefix(f"{BLUR} ")) from None
        editor = values.get(EDITOR)
        background = _part(editor, "background")
        if not background:
            raise SettingsError(EDITOR, NO_PICTURE)
        layers = [layer for layer in _part(editor, "layers") or () if layer]
        if not layers:
            raise SettingsError(EDITOR, NOTHING_PAINTED)
        shared = {name: value for name, value in values.items() if name in PARAMS}
        shared.update(init_image=background, mask_image={"layers": layers}, strength=values.get(STRENGTH))
        try:
            request = self.handlers.request_from(shared)
        except SettingsError as error:
            raise SettingsError(STANDS_FOR.get(error.field, error.field), error.reason) from None
        if request.mask_image is None:
            raise SettingsError(EDITOR, NOTHING_PAINTED)
        return replace(request, mask_image=blurred_mask(request.mask_image, blur)), blur

    def check(self, values: dict[str, Any]) -> SettingsError | None:
        try:
            self.request(values)
        except SettingsError as error:
            return error
        except Exception:  # noqa: BLE001 (a bug: the handler meets it again and reports it)
            return None
        return None

    def validate(self, **values: Any) -> list[dict[str, Any]]:
        """One ``gr.validate`` per input, in the event's order (the settings, then the tab's)."""
        error = self.check(values)
        names = [*PARAMS, *TAB_INPUTS]
        if error is None:
            return [gr.validate(True, "") for _ in names]
        message, param = in_words(error, self.places)
        target = param if param in names else names[0]
        return [gr.validate(name != target, message if name == target else "") for name in names]

    def inpaint(
        self,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio swaps in a tracker per call)
        gradio_request: gr.Request | None = None,  # its session's cancel requests stop the run
        **values: Any,
    ) -> Iterator[tuple[Any, ...]]:
        with reported_errors("inpainting"):
            try:
                request, blur = self.request(values)
            except SettingsError as error:
                raise user_error(in_words(error, self.places)[0]) from None
            engine = self.handlers.engine

            def task(on_step: Any) -> Any:
                return engine.generate(
                    request.settings, request.references, request.init_image, request.control_image, on_step=on_step,
                    mask_image=request.mask_image, more=request.more,
                )  # fmt: skip

            loaded = self.handlers._loaded  # noqa: SLF001 (the same readout as Generate's)
            result = yield from follow(
                task, progress, percent_label("Inpainting"), INPAINT_OUTPUTS, gradio_request, loaded=loaded
            )
            pairs = mask_pairs(request.mask_image, blur)
            texts = [with_mask_note(text, pairs) for text in result.parameters]
            images = pasted_over(result.images, request.init_image, request.mask_image)
            paths = [self.handlers.store.save(image, f"inpaint-{seed}", text)
                     for image, seed, text in zip(images, result.seeds, texts)]  # fmt: skip
        for warning in result.warnings:
            gr.Warning(warning)
        yield (
            [(path, seed_caption(seed)) for path, seed in zip(paths, result.seeds)],
            request.settings.seed,
            with_warnings(texts[0], result.warnings),
        )
