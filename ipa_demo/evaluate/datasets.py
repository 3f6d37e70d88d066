"""The items an evaluation walks, in a fixed order: index, an image (the reference) and its caption.

Formats, picked from what ``--data`` points at:
- COCO: ``annotations/captions_val2017.json`` (or any ``annotations/captions_*.json``) and the images
  in ``val2017/`` (or beside the annotations folder); an image's first caption is its prompt, as
  the IP-Adapter paper's evaluation takes the image as both the reference and the caption source;
- a folder of images with same-name ``.txt`` captions, or images with ``metadata.jsonl`` (read as
  ``train`` reads them).
The order is the file's (COCO: the ``images`` list), so an item's index, and the seeds drawn from
it, are the same on every run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..settings import SettingsError


@dataclass(frozen=True)
class Item:
    index: int
    key: str  # names the item in rows and messages
    image: str  # path of the reference image
    caption: str


def read_items(data: Path, limit: int | None = None) -> list[Item]:
    if limit is not None and limit < 1:
        raise SettingsError("--limit", f"must be at least 1, got {limit}")
    if not data.exists():
        raise SettingsError("--data", f"no such file or folder: {data}")
    annotations = _coco_annotations(data)
    items = _coco(annotations, data) if annotations else _listed(data)
    if not items:
        raise SettingsError("--data", f"no usable items in {data}")
    return items[:limit]


def _coco_annotations(data: Path) -> Path | None:
    if data.is_file() and data.suffix == ".json":
        return data
    preferred = data / "annotations" / "captions_val2017.json"
    if preferred.is_file():
        return preferred
    return next(iter(sorted((data / "annotations").glob("captions_*.json"))), None) if data.is_dir() else None


def _coco(annotations: Path, data: Path) -> list[Item]:
    try:
        content = json.loads(annotations.read_text(encoding="utf-8"))
        images, captions = content["images"], content["annotations"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SettingsError("--data", f"{annotations} is not a COCO captions file ({error})") from None
    root = data if data.is_dir() else annotations.parent
    split = annotations.stem.removeprefix("captions_")
    folders = [root / split, root, annotations.parent.parent / split, annotations.parent.parent]
    first_caption: dict[object, str] = {}
    for entry in captions:
        if isinstance(entry, dict) and isinstance(entry.get("caption"), str):
            first_caption.setdefault(entry.get("image_id"), entry["caption"].strip())
    items: list[Item] = []
    for image in images:
        if not isinstance(image, dict) or image.get("id") not in first_caption:
            continue
        path = next((folder / str(image.get("file_name")) for folder in folders
                     if (folder / str(image.get("file_name"))).is_file()), None)  # fmt: skip
        if path is not None:
            items.append(Item(len(items), str(image.get("file_name")), str(path), first_caption[image["id"]]))
    return items


def _listed(data: Path) -> list[Item]:
    from ..training.data import ListSource, open_source

    source = open_source(data)
    if not isinstance(source, ListSource) or not data.is_dir():
        raise SettingsError(
            "--data", f"{data}: give a COCO folder, a folder of captioned images or one with metadata.jsonl"
        )
    return [
        Item(index, record.key, str(record.image), record.read_caption())
        for index, record in enumerate(source.items)
    ]
