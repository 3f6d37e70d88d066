"""The Inpaint tab's event: the picture and mask painted on its editor, with the page's other settings.

The tab's inputs stand in for the img2img section's: its editor's background is the init image
and what is painted on it the mask (``init_image`` and ``mask_image`` of the other settings are not
read), its strength slider is ``strength``; ``mask_blur`` blurs the painted mask as A1111 does
(``mask_note``). A1111's "Masked content" says what the masked part starts from ("fill":
``masked_fill``; "latent noise" / "latent nothing": ``inpainting.LatentFill``) and its "Inpaint area"
where the engine works (``inpaint_area``: the whole picture, or only the box around the mask, grown by
the padding, generated at the output size); the result is pasted back over the picture through the
soft mask, as A1111 does. Everything else (prompt, references, ControlNet, sampling) comes from the page's
controls as Generate reads them, through the same checks (``Handlers.request_from``). Errors name the
tab's controls by their labels (``places``). The bar shows the step and the percentage done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

import gradio as gr

from ..inpaint_area import MAX_PADDING, InpaintArea
from ..inpainting import LatentFill
from ..mask_note import blurred_mask, check_mask_blur, mask_pairs, with_mask_note
from ..settings import SettingsError
from ..settings.values import PARAMS
from .errors import reported_errors, user_error
from .feedback import Place, in_words
from .fields import Request
from .handlers import Handlers, follow
from .outputs import seed_caption, with_warnings

EDITOR, BLUR, STRENGTH = "inpaint_image", "mask_blur", "inpaint_strength"
CONTENT, AREA, PADDING = "masked_content", "inpaint_area", "only_masked_padding"
TAB_INPUTS = (EDITOR, BLUR, STRENGTH, CONTENT, AREA, PADDING)
MASKED_CONTENTS = ("fill", "original", "latent noise", "latent nothing")  # A1111's choices, in its order
DEFAULT_CONTENT = "original"
WHOLE_PICTURE, ONLY_MASKED = "Whole picture", "Only masked"
DEFAULT_PADDING = 32  # pixels, A1111's
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


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SettingsError(name, f"must be one of {', '.join(choices)}, got {value!r}")
    return cast(str, value)


def _padding(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise SettingsError(PADDING, f"must be a whole number of pixels, got {value!r}")
    if not 0 <= value <= MAX_PADDING:
        raise SettingsError(PADDING, f"must be 0 to {MAX_PADDING} pixels, got {value:g}")
    return int(value)


@dataclass(frozen=True)
class InpaintJob:
    """A checked click: the request (its mask blurred), the blur, what the masked part starts from and
    where the engine works."""

    request: Request
    blur: int
    content: str
    area: InpaintArea

    def engine_request(self) -> tuple[Request, LatentFill]:
        """What the engine gets: for "Only masked" the box's part of every picture at the output size, the
        init image filled for "fill", and the latent fill."""
        request = self.request
        size = (request.settings.width, request.settings.height)
        init, mask = self.area.engine_start(size, fill=self.content == "fill")
        control = request.control_image
        if control is not None:
            control = self.area.cropped(control, size)
        units = self.area.cropped_units(request.units, size)
        fill = cast(LatentFill, self.content if self.content.startswith("latent") else "original")
        return replace(request, init_image=init, mask_image=mask, control_image=control, units=units), fill

    def pairs(self) -> dict[str, str]:
        """The PNG text's pairs for the mask and these choices, as A1111 writes them."""
        pairs = {**mask_pairs(self.request.mask_image, self.blur), **self.area.pairs()}  # type: ignore[arg-type]
        if self.content != DEFAULT_CONTENT:
            pairs["Masked content"] = self.content
        return pairs


class Inpainter:
    """Turns the tab's values into a request and runs it, as Generate does; ``places``: every input's label."""

    def __init__(self, handlers: Handlers, places: Mapping[str, Place]) -> None:
        self.handlers = handlers
        self.places = places

    def request(self, values: Mapping[str, Any]) -> InpaintJob:
        """The checked click, or ``SettingsError`` naming a control."""
        try:
            blur = check_mask_blur(values.get(BLUR), BLUR)
        except ValueError as error:
            raise SettingsError(BLUR, str(error).removeprefix(f"{BLUR} ")) from None
        content = _choice(values.get(CONTENT, DEFAULT_CONTENT), CONTENT, MASKED_CONTENTS)
        only_masked = _choice(values.get(AREA, WHOLE_PICTURE), AREA, (WHOLE_PICTURE, ONLY_MASKED)) == ONLY_MASKED
        padding = _padding(values.get(PADDING, DEFAULT_PADDING))
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
        assert request.init_image is not None
        mask = blurred_mask(request.mask_image, blur)
        size = (request.settings.width, request.settings.height)
        area = InpaintArea.of(request.init_image, mask, only_masked, padding, size)
        if area is None:  # "Only masked" finds no box only for a blank mask, which is refused above
            raise SettingsError(EDITOR, NOTHING_PAINTED)
        return InpaintJob(replace(request, mask_image=mask), blur, content, area)

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
                job = self.request(values)
            except SettingsError as error:
                raise user_error(in_words(error, self.places)[0]) from None
            engine = self.handlers.engine
            request, latent_fill = job.engine_request()

            def task(on_step: Any) -> Any:
                return engine.generate(
                    request.settings, request.references, request.init_image, request.control_image, on_step=on_step,
                    mask_image=request.mask_image, more=request.more, units=request.units, latent_fill=latent_fill,
                )  # fmt: skip

            loaded = self.handlers._loaded  # noqa: SLF001 (the same readout as Generate's)
            result = yield from follow(
                task, progress, percent_label("Inpainting"), INPAINT_OUTPUTS, gradio_request, loaded=loaded
            )
            pairs = job.pairs()
            texts = [with_mask_note(text, pairs) for text in result.parameters]
            images = job.area.pasted(result.images)
            paths = [self.handlers.store.save(image, f"inpaint-{seed}", text)
                     for image, seed, text in zip(images, result.seeds, texts)]  # fmt: skip
        for warning in result.warnings:
            gr.Warning(warning)
        yield (
            [(path, seed_caption(seed)) for path, seed in zip(paths, result.seeds)],
            request.settings.seed,
            with_warnings(texts[0], result.warnings),
        )
