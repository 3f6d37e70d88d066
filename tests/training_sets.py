"""Tiny training sets written on the spot, in each format ``ipa_demo.training.data`` reads."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

CAPTIONS = ("a photo of a cat", "a dog", "the cat", "a photo of the dog")


def shape_image(index: int, size: tuple[int, int] = (96, 80)) -> Image.Image:
    """A flat colour with a rectangle of another: something an adapter can learn from in a few steps."""
    rng = np.random.default_rng(index)
    pixels = np.empty((size[1], size[0], 3), np.uint8)
    pixels[...] = rng.integers(0, 256, 3)
    top, left = rng.integers(0, size[1] // 2), rng.integers(0, size[0] // 2)
    pixels[top : top + size[1] // 2, left : left + size[0] // 2] = rng.integers(0, 256, 3)
    return Image.fromarray(pixels)


def captioned_folder(folder: Path, count: int = 8, broken: bool = False) -> Path:
    """``count`` images with captions; with ``broken``, also an unreadable image and an uncaptioned one."""
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        shape_image(index).save(folder / f"img{index:02d}.png")
        (folder / f"img{index:02d}.txt").write_text(CAPTIONS[index % len(CAPTIONS)])
    if broken:
        (folder / "broken.png").write_bytes(b"not an image at all")
        (folder / "broken.txt").write_text("a caption for nothing")
        shape_image(99).save(folder / "uncaptioned.png")
    return folder


def json_list(folder: Path, count: int = 4) -> Path:
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, str]] = []
    for index in range(count):
        shape_image(index).save(images / f"{index}.png")
        entries.append({"image_file": f"{index}.png", "text": CAPTIONS[index % len(CAPTIONS)]})
    entries += [{"image_file": "missing.png", "text": "gone"}, {"image_file": "0.png"}]
    path = folder / "data.json"
    path.write_text(json.dumps(entries))
    return path


def image_folder(folder: Path, count: int = 4) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for index in range(count):
        shape_image(index).save(folder / f"{index}.png")
        lines.append(json.dumps({"file_name": f"{index}.png", "text": CAPTIONS[index % len(CAPTIONS)]}))
    lines.append(json.dumps({"file_name": "0.png"}))  # no caption
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def shards(folder: Path, per_shard: int = 3, count: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for shard in range(count):
        with tarfile.open(folder / f"shard-{shard:03d}.tar", "w") as tar:
            for item in range(per_shard):
                key = f"s{shard}/{item:04d}"
                buffer = io.BytesIO()
                shape_image(shard * 10 + item).save(buffer, format="PNG")
                _add(tar, f"{key}.png", buffer.getvalue())
                _add(tar, f"{key}.txt", CAPTIONS[item % len(CAPTIONS)].encode())
            _add(tar, f"s{shard}/orphan.txt", b"a caption without an image")
    return folder


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
