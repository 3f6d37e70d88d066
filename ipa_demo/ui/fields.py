"""The request as the web app and its API see it: named values in, a validated ``Request`` out.

The values are named after the declared settings (``settings.values``), so that ``gradio_client``
callers write ``client.predict(prompt=..., ip_scale=..., api_name="/generate")``. Images are
decoded only once their headers fit the request's memory budget. This module holds no Gradio
component and imports no model code, so the rules are tested without a browser or a model.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops

from ..architecture import KNOWN
from ..architecture.layers import NUM_LAYERS, mask_presets
from ..cache import LRUCache
from ..images import ImageInputError, load_image, load_mask, load_painted_layer, max_aspect_ratio, max_pixels
from ..input_budget import check_budget, decode_slot, read_header
from ..ip_adapter.inputs import NO_MORE, MoreReferences, check_more_references
from ..settings import GenerationSettings, Limits, SettingsError, check_inputs, check_limits
from ..settings.declarations import IMAGE_PARAMS
from ..settings.units import NO_UNIT_IMAGES, UnitImages, check_unit_images
from ..settings.values import check_present, resolve_seed, settings_from_values
from .unit_fields import is_unit_mask, unit_image_inputs, unit_images

# image inputs holding several images (the others hold one), and those read as masks (grey, transparent = black)
GALLERY_PARAMS = ("reference_images", "reference_masks", "ip2_reference_images", "ip2_masks")
MASK_PARAMS = ("reference_masks", "ip2_masks")


@dataclass(frozen=True)
class Request:
    """What one click asks the engine for: validated settings and the decoded images."""

    settings: GenerationSettings
    references: tuple[Image.Image, ...]
    init_image: Image.Image | None
    control_image: Image.Image | None
    mask_image: Image.Image | None = None  # white: repaint (inpainting, with init_image)
    more: MoreReferences = NO_MORE
    units: UnitImages = NO_UNIT_IMAGES  # the images of settings.more_*_units


def _gallery_paths(value: Any) -> list[str]:
    """A gallery input arrives as [(path, caption), ...] or None; API callers may send plain paths."""
    if not value:
        return []
    return [str(item[0] if isinstance(item, (tuple, list)) else item) for item in value]


# The validator decodes each upload before the request is queued, then the handler parses the same
# request again: keyed by the file's identity, the second parse reuses the first decode. Gradio writes
# an upload once and never changes it; a file that did change has another key.
_decoded_uploads: LRUCache[Image.Image] = LRUCache(4)


def _decode(file: Path, name: str) -> Image.Image:
    try:
        status = file.stat()
    except OSError:
        return load_image(file, name)  # which says what is wrong with it
    key = (str(file.resolve()), status.st_mtime_ns, status.st_size, name, max_pixels(), max_aspect_ratio())
    load = load_mask if name in MASK_PARAMS or is_unit_mask(name) else load_image
    return _decoded_uploads.get_or_make(key, lambda: load(file, name))


@contextmanager
def _named_after(name: str, path: str) -> Iterator[None]:
    """An image's error as a ``SettingsError`` naming the input and the file, never the server's path."""
    try:
        yield
    except ImageInputError as error:
        reason = str(error).removeprefix(f"{name}: ").replace(str(Path(path)), Path(path).name)
        raise SettingsError(name, reason) from None


def _image_inputs(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(input name, path) for every image the request names, references first."""
    named = [(name, path) for name in GALLERY_PARAMS for path in _gallery_paths(values.get(name))]
    singles = [name for name in IMAGE_PARAMS if name not in GALLERY_PARAMS and name != "mask_image"]
    named += [(name, values[name]) for name in singles if values.get(name) is not None]
    named += [("mask_image", path) for path in _mask_paths(values.get("mask_image"))]
    return named + unit_image_inputs(values)


def _mask_paths(value: Any) -> list[str]:
    """A mask file's path, or the painted layers of the image editor ({"background", "layers", ...})."""
    if isinstance(value, Mapping):
        return [str(layer) for layer in value.get("layers") or () if layer]
    return [str(value)] if value else []


def _mask(value: Any, images: Sequence[Image.Image]) -> Image.Image | None:
    """One mask: a file as it is (white repaints), or the union of what was painted on the editor's layers
    (None when nothing was)."""
    if not images:
        return None
    if not isinstance(value, Mapping):
        return images[0]
    union = images[0]
    for layer in images[1:]:
        union = ImageChops.lighter(union, layer)
    return union if union.getbbox() else None  # nothing painted: plain img2img


def _decode_within_budget(values: Mapping[str, Any], limits: Limits) -> dict[str, list[Image.Image]]:
    """The request's images by input name, decoded only once their headers fit the budget."""
    named = _image_inputs(values)
    headers = []
    for name, path in named:
        with _named_after(name, path):
            headers.append(read_header(Path(path), name))
    check_budget(headers, limits)
    images: dict[str, list[Image.Image]] = {}
    painted = isinstance(values.get("mask_image"), Mapping)
    with decode_slot():
        for name, path in named:
            with _named_after(name, path):
                if name == "mask_image" and painted:
                    images.setdefault(name, []).append(load_painted_layer(Path(path), name))
                else:
                    images.setdefault(name, []).append(_decode(Path(path), name))
    return images


def parse_request(values: Mapping[str, Any], limits: Limits, seed: int | None = None) -> Request:
    """Settings and images from the raw values, checked as far as possible without a model.

    ``seed`` overrides the seed parameter (the handler resolves -1 once, so that what it reports
    is what it used); without it a -1 seed is resolved here.
    """
    check_present(values)
    settings = settings_from_values(values, resolve_seed(values["seed"]) if seed is None else seed)
    check_limits(settings, limits)
    images = _decode_within_budget(values, limits)
    references = tuple(images.get("reference_images", ()))
    init_image = next(iter(images.get("init_image", ())), None)
    control_image = next(iter(images.get("control_image", ())), None)
    mask_image = _mask(values.get("mask_image"), images.get("mask_image", []))
    more = MoreReferences(
        negative_reference=next(iter(images.get("negative_reference", ())), None),
        reference_masks=tuple(images.get("reference_masks", ())),
        ip2_references=tuple(images.get("ip2_reference_images", ())),
        ip2_masks=tuple(images.get("ip2_masks", ())),
    )
    check_inputs(settings, references, init_image, control_image)
    check_more_references(settings, references, more)
    if mask_image is not None and init_image is None:
        raise SettingsError("mask_image", "a mask needs an init image to paint on")
    units = unit_images(settings, images)
    check_unit_images(settings, units)
    return Request(settings, references, init_image, control_image, mask_image, more, units)


def mask_from_bits(bits: Sequence[bool]) -> str:
    if len(bits) != NUM_LAYERS:
        raise ValueError(f"a mask has {NUM_LAYERS} bits, got {len(bits)}")
    return "".join("1" if bit else "0" for bit in bits)


def bits_from_mask(mask: str) -> list[bool] | None:
    """The toggles for a mask text, or None while the text is not (yet) a valid mask."""
    if not isinstance(mask, str) or len(mask) != NUM_LAYERS or set(mask) - {"0", "1"}:
        return None
    return [bit == "1" for bit in mask]


def preset_of(mask: str) -> str | None:
    """The preset's name when a mask is exactly one of them, of any model (SD 1.5's 16 bits, SDXL's 11)."""
    presets = (mask_presets(architecture) for architecture in KNOWN)
    return next((name for table in presets for name, bits in table.items() if bits == mask), None)
