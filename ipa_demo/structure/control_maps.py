"""Canny, depth and pose maps from a control image, at exactly the generation size, cached.

Canny: controlnet_aux's ``CannyDetector`` is ``cv2.Canny`` between two resizes that round both sides
to multiples of 64 (a 512x680 request would get a 512x704 map, stretched back). We crop-fit the
image to the generation size once and run the same ``cv2.Canny`` on it; a test holds the result to
``CannyDetector`` wherever its rounding is a no-op. Every other kind comes from an estimator model
(depth: a transformers depth-estimation pipeline; openpose: controlnet_aux's OpenPose), loaded on
first use and resized back to the fitted image.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps

from ..cache import LRUCache, image_digest


@dataclass(frozen=True)
class MapRequest:
    kind: str  # "canny", or a kind an estimator makes ("depth", "openpose")
    width: int
    height: int
    canny_low: int = 100
    canny_high: int = 200


def fit_to_size(image: Image.Image, width: int, height: int) -> Image.Image:
    """A1111's "crop and resize": keep the centre at the target aspect, then scale."""
    image = image.convert("RGB")
    if image.size == (width, height):
        return image
    return ImageOps.fit(image, (width, height), Image.LANCZOS)


def canny_map(image: Image.Image, low: int, high: int) -> Image.Image:
    edges = cv2.Canny(np.asarray(image.convert("RGB")), low, high)
    return Image.fromarray(edges).convert("RGB")


Estimator = Callable[[Image.Image], Image.Image]


def estimated_map(estimate: Estimator, image: Image.Image) -> Image.Image:
    made = estimate(image)
    if made.size != image.size:  # depth pipelines return the input size; OpenPose rounds to multiples of 64
        made = made.resize(image.size, Image.BICUBIC)
    return made.convert("RGB")


class ControlMapMaker:
    """Makes maps on demand and keeps the last few: a second run with the same image reuses them."""

    def __init__(self, estimators: Mapping[str, Callable[[], Estimator]], cache_size: int = 16) -> None:
        self._estimators = estimators  # kind -> its loader, called on the first request of that kind
        self._cache: LRUCache[Image.Image] = LRUCache(cache_size)

    @property
    def maps_made(self) -> int:
        return self._cache.misses

    def make(self, image: Image.Image, request: MapRequest) -> Image.Image:
        return self._cache.get_or_make((image_digest(image), request), lambda: self._make(image, request))

    def _make(self, image: Image.Image, request: MapRequest) -> Image.Image:
        fitted = fit_to_size(image, request.width, request.height)
        if request.kind == "canny":
            return canny_map(fitted, request.canny_low, request.canny_high)
        return estimated_map(self._estimators[request.kind](), fitted)
