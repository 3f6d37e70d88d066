"""The memory a request's input images may take, checked from their headers before any is decoded.

Each image is checked on its own by ``images.check_size`` (smallest side, pixels, aspect ratio).
Here the request as a whole: how many references, how many images in all, and how many pixels
they decode to together. Decoding itself goes through one slot per process, so that a crowd of
simultaneous requests, each within its budget, still decodes one budget at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .images import read_size
from .settings import Limits, SettingsError

REFERENCES = "reference_images"
REFERENCE_FIELDS = (REFERENCES, "ip2_reference_images")  # the first two adapter units' references
_DECODE_SLOT = threading.Lock()


@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header says: which input it is, and its size."""

    field: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def read_header(path: Path, field: str) -> ImageHeader:
    """Open ``path`` far enough to know its size, and check it; nothing is decoded."""
    return ImageHeader(field, *read_size(path, field))


def is_reference(field: str) -> bool:
    """Whether an input is a reference of some IP-Adapter unit (``settings.units.unit_field`` names further units')."""
    return field in REFERENCE_FIELDS or (field.startswith("ip_unit_") and field.endswith(".references"))


def check_budget(headers: Sequence[ImageHeader], limits: Limits) -> None:
    """Refuse a request whose images, together, exceed this server's budget; the error names the input."""
    references = sum(is_reference(header.field) for header in headers)
    if references > limits.max_references:
        raise SettingsError(REFERENCES, f"at most {limits.max_references} reference images on this server, got {references}")
    if len(headers) > limits.max_input_images:
        raise SettingsError(
            headers[limits.max_input_images].field,
            f"at most {limits.max_input_images} input images per request on this server, got {len(headers)}",
        )
    total = 0
    for header in headers:
        total += header.pixels
        if total > limits.max_request_pixels:
            total_of_all = sum(item.pixels for item in headers)
            raise SettingsError(
                header.field,
                f"the input images hold {total_of_all / 1e6:.3g} megapixels together; "
                f"at most {limits.max_request_pixels / 1e6:.3g} are accepted per request on this server",
            )


@contextmanager
def decode_slot() -> Iterator[None]:
    """Hold the process's one decoding slot while a request's images are decoded."""
    with _DECODE_SLOT:
        yield
