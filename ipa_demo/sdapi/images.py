"""Base64 images in, within the request's memory budget; PNGs with their parameters out.

A client sends images as base64 text, bare or as a ``data:image/...;base64,`` URL (never a path
or a URL to fetch: those are refused). Each is checked before it is decoded: its text length
against the largest file this server accepts (``IPA_MAX_UPLOAD_MB``, as the web app's uploads),
then its header (``images.read_size``: smallest side, pixels, aspect ratio), then all of a request's
images together (``input_budget.check_budget``: how many, how many pixels); only then are they
decoded, through the process's one decoding slot. Errors name the request field the image came in.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from ..images import ImageInputError, load_image, load_mask, read_size
from ..input_budget import ImageHeader, check_budget, decode_slot
from ..settings import Limits, SettingsError
from .errors import bad_field

_DATA_URL = re.compile(r"data:image/[A-Za-z0-9.+-]+;base64,", re.ASCII)
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}", re.ASCII)


@dataclass(frozen=True)
class EncodedImage:
    """One image of a request, not decoded yet: ``role`` is the input it fills (``settings``' image
    names, which the budget counts by), ``field`` where the client put it."""

    role: str
    field: str
    data: bytes
    as_mask: bool = False


def image_bytes(text: object, field: str, max_bytes: int) -> bytes:
    """The file a base64 text holds; its length is checked before anything is decoded."""
    if not isinstance(text, str) or not text:
        raise bad_field(field, "must be a base64-encoded image")
    if text.startswith(("http://", "https://", "file:", "/")):
        raise bad_field(field, "must be a base64-encoded image; URLs and paths are not fetched or opened")
    match = _DATA_URL.match(text)
    body = text[match.end():] if match else text
    if len(body) // 4 * 3 > max_bytes:
        raise bad_field(field, f"holds more than {max_bytes:,} bytes; at most that much is accepted per image")
    body = "".join(body.split())  # line breaks, as some encoders write them
    if not _BASE64.fullmatch(body):
        raise bad_field(field, "is not valid base64 (only A–Z, a–z, 0–9, + and / with = at the end)")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise bad_field(field, "is not valid base64") from None


def decode_all(images: Sequence[EncodedImage], limits: Limits) -> list[Image.Image]:
    """Every image of a request, decoded once their headers fit the budget; in their order."""
    headers = []
    for image in images:
        try:
            headers.append(ImageHeader(image.role, *read_size(io.BytesIO(image.data), image.field)))
        except ImageInputError as error:
            raise bad_field(image.field, str(error).removeprefix(f"{image.field}: ")) from None
    try:
        check_budget(headers, limits)
    except SettingsError as error:
        beyond = len(images) > limits.max_input_images and error.field == images[limits.max_input_images].role
        field = images[limits.max_input_images].field if beyond else _field_of(images, error.field)
        raise bad_field(field, error.reason) from None
    decoded = []
    with decode_slot():
        for image in images:
            load = load_mask if image.as_mask else load_image
            try:
                decoded.append(load(io.BytesIO(image.data), image.field))
            except ImageInputError as error:
                raise bad_field(image.field, str(error).removeprefix(f"{image.field}: ")) from None
    return decoded


def _field_of(images: Sequence[EncodedImage], role: str) -> str:
    """The client's field of the first image in ``role`` (what a budget error names)."""
    return next((image.field for image in images if image.role == role), role)


def png_base64(image: Image.Image, parameters: str | None) -> str:
    """A PNG with A1111's ``parameters`` text chunk, as base64 text."""
    info = PngInfo()
    if parameters:
        info.add_text("parameters", parameters)
    with io.BytesIO() as buffer:
        image.save(buffer, format="PNG", pnginfo=info)
        return base64.b64encode(buffer.getvalue()).decode("ascii")
