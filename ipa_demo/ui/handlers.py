"""Event handlers of the web app, bound to one engine; no Gradio layout here.

The GPU handlers (``generate``, ``compare``) are generators: they parse and check the request,
run the engine in a worker thread (``runner``) that reports its steps to ``gr.Progress``, and
yield "no change" every few seconds so that Gradio can close them on Stop. Everything a request needs travels in its arguments:
nothing about one request is kept on the handlers or the engine. What they raise reaches the
user through ``errors``: their own mistakes in words, server faults as a fixed message.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import gradio as gr
from PIL import Image, UnidentifiedImageError

from ..compare import compare
from ..ip_adapter.inputs import masks_from_pairs
from ..loop import StepCallback
from ..mask_note import mask_blur_of, mask_pairs, with_mask_notes
from ..metadata import read_png_parameters
from ..settings import GenerationSettings, Limits, SettingsError
from ..settings.declarations import IMAGE_PARAMS
from ..settings.parameters import parse_parameters, settings_from_parameters
from ..settings.values import PARAMS, param_for_field, settings_from_values, values_from_settings
from ..zerogpu import MIN_SECONDS, estimate_gpu_seconds
from .base_model import check_base_model, models_of_png
from .errors import described, log, reported_errors, user_error
from .fields import Request, parse_request
from .outputs import (
    OutputStore,
    comparison_caption,
    comparison_rows,
    seed_caption,
    slider_pair,
    with_warnings,
)
from .png_summary import summary
from .runner import HEARTBEAT_SECONDS, Readout, run_stoppable
from .translation import localized, localized_reason, wants_chinese
from .zh_cn import PROGRESS_ZH

UNUSED_CONTROL_IMAGE = (
    "ControlNet and T2I-Adapter are both “none”, so the control image would be ignored: choose canny or "
    "depth for one of them, or remove the image"
)
# A PNG is one image of its batch: loading its settings keeps the user's Images count, and the images.
KEPT_ON_LOAD: tuple[str, ...] = (*IMAGE_PARAMS, "num_images")
MASK_KEYS = {"reference_masks": "IP masks", "ip2_masks": "IP2 masks"}  # mask inputs -> their PNG keys
GENERATE_OUTPUTS = 5  # gallery, seed used, before/after slider, control maps, parameters text
COMPARE_OUTPUTS = 5  # gallery, score table, grid file, seed used, note


class EngineLike(Protocol):
    """What the handlers use of ``ipa_demo.engine.Engine`` (tests pass a fake)."""

    def generate(
        self,
        settings: Any,
        references: Sequence[Image.Image] = (),
        init_image: Image.Image | None = None,
        control_image: Image.Image | None = None,
        on_step: Any = None,
        mask_image: Image.Image | None = None,
        more: Any = None,
        units: Any = None,
    ) -> Any: ...

    def compare(
        self, settings: Any, reference: Image.Image, control_image: Image.Image | None = None, on_step: Any = None
    ) -> Any: ...


def _message(error: SettingsError) -> str:
    return str(error).removeprefix(f"{error.field}: ")


def validation_for(error: SettingsError, chinese: bool = False) -> list[dict[str, Any]]:
    """One ``gr.validate`` per API parameter, failing on the one the error names (in Chinese for a page
    that asks for it: ``translation.wants_chinese``)."""
    target = param_for_field(error.field)
    plain = _message(error) if target == error.field else described(error) if target else str(error)
    message = localized_reason(plain, chinese)
    target = target or PARAMS[0]
    return [gr.validate(name != target, message if name == target else "") for name in PARAMS]


def _unchanged(width: int) -> tuple[Any, ...]:
    return tuple(gr.skip() for _ in range(width))


def follow(
    task: Callable[[StepCallback], Any],
    progress: gr.Progress,
    label: str | Callable[[tuple[int, int]], str],
    width: int,
    request: gr.Request | None = None,
    heartbeat: float = HEARTBEAT_SECONDS,
    loaded: Callable[[], Sequence[str]] = tuple,
) -> Generator[tuple[Any, ...], None, Any]:
    """Run ``task`` (``runner``), showing its steps; yield "no change" at each heartbeat; return its result.

    Each heartbeat yield clears Gradio's progress bar, so the last step is reported again right after
    it (Gradio resumes us as soon as it has sent the yield; its 10 ms progress poll shows it again).
    ``label`` is the bar's text, or a function of the step that gives it (a sweep names its cells).
    ``request`` names the session whose cancel requests stop the run at once. Before the first step
    the bar says what the run is preparing (``Readout``; ``loaded`` lists the engine's loaded models).
    """
    last: list[tuple[int, int]] = []
    readout = Readout(label, loaded)
    chinese = wants_chinese(request)  # the bar in the page's language
    unit = PROGRESS_ZH["steps"] if chinese else "steps"

    def report(done: int, total: int) -> None:
        last[:] = [(done, total)]
        progress((done, total), desc=localized(readout.step(done, total), chinese), unit=unit)

    def preparing() -> None:
        progress(0.0, desc=localized(readout.preparing(), chinese))

    run = run_stoppable(task, report, getattr(request, "session_hash", None), heartbeat)
    preparing()
    try:
        while True:
            try:
                next(run)
            except StopIteration as finished:
                return finished.value
            yield _unchanged(width)
            if last:
                report(*last[0])
            else:
                preparing()
    finally:
        run.close()  # a Stop closes us at the yield above: pass it on to the engine run


def optional_images(handler: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """``handler``, which takes its inputs as ``**values``, with each image input named in its signature
    as a keyword parameter defaulting to None: Gradio reads an API parameter's default from there, so
    API callers may leave images out."""

    @functools.wraps(handler)
    def run(*args: Any, **values: Any) -> Iterator[Any]:
        return (yield from handler(*args, **{**dict.fromkeys(IMAGE_PARAMS), **values}))

    signature = inspect.signature(handler)
    *named, rest = signature.parameters.values()
    images = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Any) for name in IMAGE_PARAMS]
    run.__signature__ = signature.replace(parameters=[*named, *images, rest])  # type: ignore[attr-defined]
    return run


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "image"


def _gallery_path(gallery: Sequence[Any] | None, selected: int | None) -> str:
    if not gallery:
        raise user_error("Generate an image first.")
    index = selected if selected is not None and 0 <= selected < len(gallery) else 0
    item = gallery[index]
    return str(item[0] if isinstance(item, (tuple, list)) else item)


class Handlers:
    def __init__(self, engine: EngineLike, store: OutputStore, limits: Limits) -> None:
        self.engine = engine
        self.store = store
        self.limits = limits

    # -- validation: runs before the request joins the queue, so before any model runs --

    def request_from(self, values: dict[str, Any], seed: int | None = None, *, comparing: bool = False) -> Request:
        """The checked request of an event's values, as every GPU event (and its validator) reads it;
        ``comparing``: Compare's own rules too (a reference, no inpainting mask)."""
        # Before parse_request, whose "IP-Adapter needs a reference (or set ip_scale to 0)" is wrong here.
        if comparing and not values.get("reference_images"):
            raise SettingsError("reference_images", "Compare needs a reference image (it compares ways of using one)")
        check_base_model(self.engine, values.get("base_model"))  # before any image is decoded
        request = parse_request(values, self.limits, seed)
        if comparing and request.mask_image is not None:
            raise SettingsError("mask_image", "Compare does not inpaint: clear the mask")
        if request.control_image is not None and not request.settings.needs_control_image:
            raise SettingsError("control_image", UNUSED_CONTROL_IMAGE)
        return request

    def check(self, values: dict[str, Any], *, comparing: bool) -> SettingsError | None:
        """The validator's verdict on a request, for the page's own error box (None: fine)."""
        try:
            self.request_from(values, comparing=comparing)
        except SettingsError as error:
            return error
        except Exception:  # noqa: BLE001 (a bug: the validator lets it through and the handler reports it)
            return None
        return None

    # ``gradio_request``: the page's language for the notes beside the controls (an API caller's stay English).
    def validate_generate(self, gradio_request: gr.Request | None = None, **values: Any) -> list[dict[str, Any]]:
        return self._validation(values, comparing=False, chinese=wants_chinese(gradio_request))

    def validate_compare(self, gradio_request: gr.Request | None = None, **values: Any) -> list[dict[str, Any]]:
        return self._validation(values, comparing=True, chinese=wants_chinese(gradio_request))

    def _validation(self, values: dict[str, Any], *, comparing: bool, chinese: bool = False) -> list[dict[str, Any]]:
        try:
            self.request_from(values, comparing=comparing)
        except SettingsError as error:
            return validation_for(error, chinese)
        except Exception:  # noqa: BLE001 (Gradio would send its text to the caller)
            # A bug, not the user's mistake: let the request through, so the handler fails the same
            # way and its error reaches the user as a message rather than a bare "400 Bad Request".
            log.exception("checking a request failed")
        return [gr.validate(True, "") for _ in PARAMS]

    # -- GPU events --

    # The image inputs arrive in ``values``; ``optional_images`` names them in the signature.
    def generate(
        self,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio swaps in a tracker per call)
        gradio_request: gr.Request | None = None,  # its session's cancel requests stop the run
        **values: Any,
    ) -> Iterator[tuple[Any, ...]]:
        with reported_errors("generating"):
            request = self.request_from(values)

            def task(on_step: Any) -> Any:
                return self.engine.generate(
                    request.settings, request.references, request.init_image, request.control_image, on_step=on_step,
                    mask_image=request.mask_image, more=request.more, units=request.units,
                )  # fmt: skip

            result = yield from follow(
                task, progress, "Denoising", GENERATE_OUTPUTS, gradio_request, loaded=self._loaded
            )
            outputs = self._generate_outputs(request, result)
        _warn(result.warnings)
        yield outputs

    def _loaded(self) -> tuple[str, ...]:
        return tuple(getattr(self.engine, "loaded", ()))

    def _generate_outputs(self, request: Request, result: Any) -> tuple[Any, ...]:
        if request.mask_image is not None:  # the img2img section's mask, not blurred
            result = with_mask_notes(result, mask_pairs(request.mask_image, 0))
        paths = [
            self.store.save(image, str(seed), text)
            for image, seed, text in zip(result.images, result.seeds, result.parameters)
        ]
        before = request.references[0] if request.references else request.init_image
        maps = [(self.store.save(image, kind), kind) for kind, image in result.control_maps.items()]
        return (
            [(path, seed_caption(seed)) for path, seed in zip(paths, result.seeds)],
            request.settings.seed,
            slider_pair(before, paths[0], self.store),
            maps,
            with_warnings(result.parameters[0], result.warnings),
        )

    def compare(
        self,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio swaps in a tracker per call)
        gradio_request: gr.Request | None = None,  # its session's cancel requests stop the run
        **values: Any,
    ) -> Iterator[tuple[Any, ...]]:
        with reported_errors("comparing"):
            request = self.request_from(values, comparing=True)

            def task(on_step: Any) -> Any:
                return compare(self.engine, request.settings, request.references[0], request.control_image, on_step)

            result = yield from follow(
                task, progress, "Comparing", COMPARE_OUTPUTS, gradio_request, loaded=self._loaded
            )
            outputs = self._compare_outputs(request.settings, result)
        _warn(result.warnings)
        yield outputs

    def _compare_outputs(self, settings: GenerationSettings, result: Any) -> tuple[Any, ...]:
        gallery = [
            (self.store.save(entry.image, _slug(entry.label), entry.parameters),
             comparison_caption(entry.label, entry.similarity, entry.seconds))
            for entry in result.entries
        ]  # fmt: skip
        # In words; the encoder's architecture (result.encoder_name) is for the CLI's JSON, not this note.
        note = (
            f"Seed {settings.seed} for every method. Similarity: how alike each output and the reference look "
            "to IP-Adapter's own image encoder, from 0 to 1 (1: the same; cosine of their CLIP image embeddings)."
        )
        grid = self.store.save(result.grid, "grid")
        return gallery, comparison_rows(result.entries), grid, settings.seed, with_warnings(note, result.warnings)

    # -- helper events (private) --

    def load_png(self, path: str | None, gradio_request: gr.Request | None = None) -> list[Any]:
        """Every control from a PNG's ``parameters`` text, then the summary (in the page's language:
        ``gradio_request``) and the Inpaint tab's mask blur; the images stay as they are."""
        if not path:
            return [gr.skip()] * (len(PARAMS) + 2)
        chinese = wants_chinese(gradio_request)

        def refused(message: str) -> gr.Error:  # a toast in the page's language
            return user_error(localized(message, chinese))

        with reported_errors("reading the PNG's settings"):
            try:
                text = read_png_parameters(Path(path))
            except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
                raise refused(f"{Path(path).name} is not a PNG this app can read.") from None
            if not text:
                raise refused(f"{Path(path).name} carries no generation parameters.")
            try:
                parsed = parse_parameters(text)  # once: linear, and refused unread when too long
                values = values_from_settings(settings_from_parameters(parsed))
                blur = mask_blur_of(parsed.pairs)  # the Inpaint tab's, when the PNG is an inpainting's
                # The masks travel in the text; the other images do not, and stay as they are.
                for name, key in MASK_KEYS.items():
                    values[name] = list(masks_from_pairs(parsed.pairs, key, name, self.limits)) or None
            except (SettingsError, ValueError, StopIteration, KeyError) as error:
                raise refused(f"The parameters in {Path(path).name} cannot be used: {error}") from None
            # This page's picker only: the PNG's model when the app has it, else the page's own choice.
            base_model, notes = models_of_png(self.engine, parsed)
            values["base_model"] = base_model if base_model is not None else gr.skip()
        shown = summary(parsed, text, notes, chinese)
        kept = set(KEPT_ON_LOAD) - set(MASK_KEYS)
        restored = [gr.skip() if name in kept else values[name] for name in PARAMS]
        return [*restored, shown, gr.skip() if blur is None else blur]

    def settings_of_selected(
        self, gallery: Sequence[Any] | None, selected: int | None, gradio_request: gr.Request | None = None
    ) -> list[Any]:
        return self.load_png(_gallery_path(gallery, selected), gradio_request)

    def seed_of_selected(self, gallery: Sequence[Any] | None, selected: int | None) -> int:
        """The seed of the selected output (the first if none is selected), read from its PNG."""
        path = _gallery_path(gallery, selected)
        with reported_errors("reading the image's seed"):
            text = read_png_parameters(Path(path))
            if not text:
                raise user_error(f"{Path(path).name} carries no generation parameters.")
            try:
                return settings_from_parameters(text).seed
            except (SettingsError, ValueError) as error:
                raise refused(f"The parameters in {Path(path).name} cannot be used: {error}") from None

    @staticmethod
    def use_as_reference(
        gallery: Sequence[Any] | None, selected: int | None, references: Sequence[Any] | None
    ) -> list[str]:
        kept = [str(item[0] if isinstance(item, (tuple, list)) else item) for item in references or []]
        return [*kept, _gallery_path(gallery, selected)]

    @staticmethod
    def use_as_init(gallery: Sequence[Any] | None, selected: int | None) -> str:
        return _gallery_path(gallery, selected)

    @staticmethod
    def select(event: gr.SelectData) -> int:
        return int(event.index)


def _warn(warnings: Sequence[str]) -> None:
    """Warnings as toasts in the page (API callers read them in the info text)."""
    for warning in warnings:
        gr.Warning(warning)


def gpu_seconds(methods: Callable[[dict[str, Any]], int]) -> Callable[..., int]:
    """ZeroGPU's duration function: it gets the handler's arguments, so it parses the settings."""

    def duration(*_: Any, **values: Any) -> int:
        try:
            settings = settings_from_values(values, seed=0)
        except SettingsError:  # the validator has rejected it already; ask for little
            return MIN_SECONDS
        return estimate_gpu_seconds(settings, methods(values))

    return duration


generate_seconds = gpu_seconds(lambda values: 1)
# reference-only, img2img, IP-Adapter, and IP-Adapter with structure when there is a control image
compare_seconds = gpu_seconds(lambda values: 4 if values.get("control_image") else 3)
