"""``/sdapi/v1/png-info``: the ``parameters`` text of a PNG (ours or A1111's), read from its chunks.

The image is never decoded: its header is checked as every input image is, then only the text
chunks Pillow reads on opening are used. The text is parsed with the app's own reader
(``settings.parameters``), whose pattern runs in linear time; texts over ``MAX_TEXT`` are refused.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, UnidentifiedImageError

from ..images import ImageInputError, read_size
from ..settings.parameters import parse_parameters
from .errors import bad_field

MAX_TEXT = 1024 * 1024


def png_info(data: bytes) -> dict[str, Any]:
    try:
        read_size(io.BytesIO(data), "image")
        with Image.open(io.BytesIO(data)) as image:
            items = {key: value for key, value in image.info.items() if isinstance(key, str) and isinstance(value, str)}
    except ImageInputError as error:
        raise bad_field("image", str(error).removeprefix("image: ")) from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise bad_field("image", "cannot be read as an image") from None
    text = items.pop("parameters", "")
    if len(text) > MAX_TEXT:
        raise bad_field("image", f"its parameters text holds {len(text):,} characters; at most {MAX_TEXT:,} are read")
    if not text:
        return {"info": "", "items": items, "parameters": {}}
    prompt, negative, pairs = parse_parameters(text)
    parameters: dict[str, Any] = {"Prompt": prompt, "Negative prompt": negative, **pairs}
    width, _, height = str(pairs.get("Size", "")).partition("x")
    if width and height:
        parameters.update({"Size-1": width, "Size-2": height})
    return {"info": text, "items": items, "parameters": parameters}
