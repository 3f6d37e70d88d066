"""Canny and depth maps from a control image, at exactly the generation size, cached.

Canny: controlnet_aux's ``CannyDetector`` is ``cv2.Canny`` between two resizes that round both sides
to multiples of 64 (a 512x680 request would get a 512x704 map, stretched back). We crop-fit the
image to the generation size once and run the same ``cv2.Canny`` on it; a test holds the result to
``CannyDetector`` wherever its rounding is a no-op. Depth: a transformers depth-estimation pipeline
(DPT-hybrid MiDaS by default; any local DPT or Depth Anything folder works).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps

from ..cache import LRUCache, image_digest


@dataclass(frozen=True)
class MapRequest:
    kind: str  # "canny" or "depth"
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


DepthEstimator = Callable[[Image.Image], Image.Image]


def depth_map(estimate: DepthEstimator, image: Image.Image) -> Image.Image:
    depth = estimate(image)
    if depth.size != image.size:  # the pipeline returns input size; guard against other estimators
        depth = depth.resize(image.size, Image.BICUBIC)
    return depth.convert("RGB")


class ControlMapMaker:
    """Makes maps on demand and keeps the last few: a second run with the same image reuses them."""

    def __init__(self, depth_estimator: Callable[[], DepthEstimator], cache_size: int = 16) -> None:
        self._depth_estimator = depth_estimator  # loaded on first depth request
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
        return depth_map(self._depth_estimator(), fitted)
