"""``/controlnet/detect``: the extension's preprocessors on their own (canny, depth, openpose).

Each input image is checked and decoded as a generation's are (``images``), and its map is made by
the engine's own map maker (``control_maps``) at the image's size (rounded down to a multiple of 8,
at most the server's largest side), under the engine's gate: the depth and pose estimators use the GPU.
"""

from __future__ import annotations

from typing import Any

from ..settings import GenerationSettings, Limits, SettingsError
from ..structure.control_maps import MapRequest
from ..settings.values import whole
from .errors import bad_field
from .images import EncodedImage, decode_all, image_bytes, png_base64
from .units import MAP_MODULES

CANNY_DEFAULTS = (100, 200)


def _threshold(value: Any, default: int, field: str) -> int:
    if value in (None, -1):
        return default
    try:
        return whole(value, field)
    except ValueError as error:
        raise bad_field(field, str(error).split(": ", 1)[-1]) from None


def detect_maps(engine: Any, body: Any, limits: Limits, max_image_bytes: int) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_field("body", "must be a JSON object")
    module = body.get("controlnet_module", "none")
    if module not in MAP_MODULES:
        offered = ", ".join(MAP_MODULES)
        raise bad_field("controlnet_module", f"{str(module)[:80]!r} is not offered here; one of {offered}")
    key = "controlnet_input_images" if "controlnet_input_images" in body else "controlnet_images"
    texts = body.get(key) or []
    if not isinstance(texts, list) or not texts:
        raise bad_field("controlnet_input_images", "needs a list of base64 images")
    encoded = [EncodedImage("control_image", f"{key}[{index}]", image_bytes(text, f"{key}[{index}]", max_image_bytes))
               for index, text in enumerate(texts)]  # fmt: skip
    low = _threshold(body.get("controlnet_threshold_a"), CANNY_DEFAULTS[0], "controlnet_threshold_a")
    high = _threshold(body.get("controlnet_threshold_b"), CANNY_DEFAULTS[1], "controlnet_threshold_b")
    try:  # the thresholds are checked as a generation's are
        GenerationSettings(prompt="", canny_low=low, canny_high=high)
    except SettingsError as error:
        field = "controlnet_threshold_a" if error.field == "canny_low" else "controlnet_threshold_b"
        raise bad_field(field, error.reason) from None
    maps = []
    for image in decode_all(encoded, limits):
        width, height = (max(8, min(limits.max_side, side) // 8 * 8) for side in image.size)
        with engine.gpu_gate.held():
            maps.append(engine.control_maps.make(image, MapRequest(MAP_MODULES[module], width, height, low, high)))
    return {"images": [png_base64(made, None) for made in maps], "info": "Success"}
