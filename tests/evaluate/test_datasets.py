"""Items in a fixed order from each format; bad input names its flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ipa_demo.evaluate.datasets import read_items
from ipa_demo.settings import SettingsError

from ..training_sets import captioned_folder, image_folder
from .conftest import CAPTIONS, COCO


def test_coco_takes_each_image_with_its_first_caption_in_listed_order() -> None:
    items = read_items(COCO)
    assert [item.caption for item in items] == CAPTIONS  # the listed image without a file is left out
    assert [item.index for item in items] == list(range(5))
    assert all(Path(item.image).is_file() and item.image.endswith(item.key) for item in items)


def test_limit_keeps_the_first_items_and_their_indices() -> None:
    assert [item.key for item in read_items(COCO, limit=2)] == [item.key for item in read_items(COCO)[:2]]


def test_captions_file_given_directly(tmp_path: Path) -> None:
    assert [item.caption for item in read_items(COCO / "annotations" / "captions_val2017.json")] == CAPTIONS


def test_captioned_folder_and_metadata_jsonl(tmp_path: Path) -> None:
    folder = read_items(captioned_folder(tmp_path / "txt", count=3))
    assert [Path(item.image).name for item in folder] == ["img00.png", "img01.png", "img02.png"]
    assert folder[1].caption == "a dog"
    listed = read_items(image_folder(tmp_path / "jsonl", count=2))
    assert [(item.key, item.caption) for item in listed] == [("0.png", "a photo of a cat"), ("1.png", "a dog")]


def not_coco(path: Path) -> Path:
    path.write_text("[]")
    return path


@pytest.mark.parametrize(
    ("make", "limit", "message"),
    [
        (lambda tmp: tmp / "nowhere", None, "--data: no such file"),
        (lambda tmp: not_coco(tmp / "captions_x.json"), None, "--data: .* is not a COCO captions file"),
        (lambda tmp: COCO, 0, "--limit: must be at least 1"),
    ],
)
def test_bad_input_names_the_flag(tmp_path: Path, make, limit: int | None, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        read_items(make(tmp_path), limit)


def test_coco_without_usable_items(tmp_path: Path) -> None:
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "captions_val2017.json").write_text(json.dumps({"images": [], "annotations": []}))
    with pytest.raises(SettingsError, match="--data: no usable items"):
        read_items(tmp_path)
