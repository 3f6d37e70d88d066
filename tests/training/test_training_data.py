"""Training data: every format, bad items counted and skipped, and the split over processes."""

from __future__ import annotations

import threading
from itertools import islice
from pathlib import Path

import pytest
import torch

from ipa_demo.settings import SettingsError
from ipa_demo.training.data import NO_CAPTION, NO_IMAGE, BatchReader, open_source

from ..training_sets import captioned_folder, image_folder, json_list, shape_image, shards

CLIP_SIZE = 16


def clip_stub(image) -> torch.Tensor:
    return torch.zeros(3, CLIP_SIZE, CLIP_SIZE)


def reader(source, batch_size: int, processes: int = 1, index: int = 0) -> BatchReader:
    return BatchReader(source, batch_size, 32, clip_stub, CLIP_SIZE, processes, index, workers=1)


def test_captioned_folder_counts_uncaptioned_images(tmp_path: Path) -> None:
    source = open_source(captioned_folder(tmp_path / "d", count=3, broken=True))
    assert len(source.items) == 4  # three good images and one that only decoding can refuse
    assert source.skipped == {NO_CAPTION: 1}


def test_json_list_of_the_official_tutorial(tmp_path: Path) -> None:
    source = open_source(json_list(tmp_path), tmp_path / "images", seed=0)
    assert sorted(item.key for item in source.items) == ["0.png", "1.png", "2.png", "3.png"]
    assert source.skipped == {NO_IMAGE: 1, NO_CAPTION: 1}
    assert {item.read_caption() for item in source.items} == {
        "a photo of a cat",
        "a dog",
        "the cat",
        "a photo of the dog",
    }


def test_datasets_image_folder_metadata(tmp_path: Path) -> None:
    source = open_source(image_folder(tmp_path / "d"))
    assert len(source.items) == 4 and source.skipped == {NO_CAPTION: 1}


def test_webdataset_shards_stream_in_key_groups(tmp_path: Path) -> None:
    source = open_source(shards(tmp_path / "d"))
    records = list(source.records(epoch=0))
    assert len(records) == 6
    assert all(isinstance(record.image, bytes) and record.caption for record in records)
    assert source.skipped == {NO_IMAGE: 2}  # one orphan caption per shard
    batch = next(reader(source, 4).batches())
    assert batch.pixels.shape == (4, 3, 32, 32) and batch.weights.tolist() == [1.0] * 4


def test_epochs_reshuffle_but_repeat_for_a_seed(tmp_path: Path) -> None:
    folder = captioned_folder(tmp_path / "d", count=8)
    first = [record.key for record in open_source(folder, seed=3).records(0)]
    again = [record.key for record in open_source(folder, seed=3).records(0)]
    second_epoch = [record.key for record in open_source(folder, seed=3).records(1)]
    assert first == again and sorted(first) == sorted(second_epoch) and first != second_epoch


def test_unreadable_image_keeps_its_slot_with_zero_weight(tmp_path: Path) -> None:
    source = open_source(captioned_folder(tmp_path / "d", count=3, broken=True))
    batches = reader(source, 4)
    batch = next(batches.batches())
    assert batch.weights.sum() == 3 and batches.unreadable == {"broken.png"}
    broken = batch.weights.tolist().index(0.0)
    assert batch.captions[broken] == "" and not batch.pixels[broken].any()
    assert batch.pixels.min() >= -1 and batch.pixels.max() <= 1


def official_crop(size: tuple[int, int], resolution: int) -> tuple[int, int]:
    """(top, left) of tutorial_train_sdxl.py's centre crop: torchvision's Resize, then half of what is left over."""
    from torchvision import transforms

    resized = transforms.Resize(resolution)(torch.zeros(3, size[1], size[0]))
    return (resized.shape[1] - resolution) // 2, (resized.shape[2] - resolution) // 2


def test_each_image_keeps_its_original_size_and_crop_for_sdxl(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    sizes = {"wide": (96, 80), "tall": (72, 120), "square": (40, 40)}  # (width, height)
    for name, size in sizes.items():
        shape_image(len(name), size).save(folder / f"{name}.png")
        (folder / f"{name}.txt").write_text(name)
    (folder / "broken.png").write_bytes(b"no image")
    (folder / "broken.txt").write_text("broken")
    batch = next(reader(open_source(folder), 4).batches())
    for row, caption in enumerate(batch.captions):
        if not caption:  # the unreadable image: the square it stands in for, uncropped
            assert batch.original_sizes[row].tolist() == [32, 32] and batch.crops_top_left[row].tolist() == [0, 0]
            continue
        width, height = sizes[caption]
        assert batch.original_sizes[row].tolist() == [height, width]
        assert tuple(batch.crops_top_left[row].tolist()) == official_crop((width, height), 32)
    assert batch.crops_top_left.max() > 0  # the wide and tall images were cropped


def test_two_processes_split_the_global_batch_of_one(tmp_path: Path) -> None:
    source = open_source(captioned_folder(tmp_path / "d", count=5))
    whole = list(islice(reader(source, 4).batches(), 3))
    halves = [list(islice(reader(source, 2, 2, rank).batches(), 3)) for rank in (0, 1)]
    for step, batch in enumerate(whole):
        first, second = halves[0][step], halves[1][step]
        assert first.indices + second.indices == batch.indices == list(range(4 * step, 4 * step + 4))
        assert torch.equal(torch.cat([first.pixels, second.pixels]), batch.pixels)
        assert first.captions + second.captions == batch.captions


def test_resuming_reads_on_from_the_stream_position(tmp_path: Path) -> None:
    source = open_source(captioned_folder(tmp_path / "d", count=5))
    straight = list(islice(reader(source, 2).batches(), 4))
    resumed = next(reader(source, 2).batches(start_record=6))
    assert resumed.indices == straight[3].indices and resumed.captions == straight[3].captions


def uncaptioned_only(tmp: Path) -> Path:
    (tmp / "d").mkdir()
    shape_image(0).save(tmp / "d" / "lonely.png")
    return tmp / "d"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "nowhere", "no such file or folder"),
        (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "no usable items"),
        (uncaptioned_only, r"no usable items.*1 without a caption"),
    ],
)
def test_no_usable_data_names_the_flag(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(SettingsError, match=rf"--data: {message}"):
        open_source(make(tmp_path))


def test_an_error_while_reading_ahead_reaches_the_trainer(tmp_path: Path) -> None:
    source = open_source(captioned_folder(tmp_path / "d", count=2))
    source.items.clear()  # as if every file vanished after the listing
    with pytest.raises(SettingsError, match="--data: no usable items"):
        next(reader(source, 2).batches())


def test_closing_stops_and_joins_every_reading_thread(tmp_path: Path) -> None:
    """A reading thread alive at interpreter exit can abort the process (see ``_prefetched``)."""
    before = set(threading.enumerate())
    batch_reader = reader(open_source(captioned_folder(tmp_path / "d", count=4)), 2)
    batches = batch_reader.batches()
    next(batches)  # the thread now reads ahead until its queue is full
    batches.close()
    batch_reader.close()
    assert [thread.name for thread in set(threading.enumerate()) - before] == []
