"""Image–caption pairs for training, read in one fixed order that every process walks alike.

Formats (``open_source`` picks one from what ``--data`` points at):
- a folder of images, each with a same-name ``.txt`` caption (subfolders included);
- the official tutorial's JSON list ``[{"image_file": ..., "text": ...}]``, files under a root;
- a Hugging Face ``datasets`` image folder: images plus ``metadata.jsonl`` (``file_name`` and
  ``text`` or ``caption``), read without the library;
- webdataset shards (``*.tar``, members grouped by key: ``k.jpg`` + ``k.txt``), streamed member by
  member, never unpacked or loaded whole.

Distributed training needs every process to agree on which sample is which: the records form one
stream (the same on every process), global micro-batch k is records [k·G, (k+1)·G) with G = per-process
batch × processes, and process p keeps its slice [p·B, (p+1)·B). A sample's global index is its
position in that stream, so one process with batch 2B sees exactly the samples two processes with
batch B see, and per-sample randomness seeded by that index does not depend on the split. The cost:
with shards every process reads every record's bytes (it decodes only its own).

Bad items never stop a run. Items without a caption or image file are dropped from the stream (the
same on every process, so the split stays aligned); an image that cannot be decoded keeps its slot
with zero weight in the loss, counted, since only the process that owns it finds out.
"""

from __future__ import annotations

import io
import json
import random
import tarfile
import threading
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from queue import Full, Queue
from typing import TypeVar

import numpy as np
import torch
from PIL import Image

from ..images import ImageInputError, load_image
from ..settings import SettingsError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
T = TypeVar("T")
NO_CAPTION, NO_IMAGE, UNREADABLE = "without a caption", "without an image file", "unreadable image"


@dataclass(frozen=True)
class Record:
    key: str  # names the item in messages
    image: Path | bytes
    caption: str | Path  # a caption file is read only when its sample is used

    def read_caption(self) -> str:
        return self.caption.read_text(encoding="utf-8").strip() if isinstance(self.caption, Path) else self.caption


def _shuffled(items: list[T], seed: int, epoch: int) -> list[T]:
    """``items`` in this epoch's order: the same on every process for a seed, new each epoch."""
    order = list(items)
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return order


@dataclass
class ListSource:
    """A listed data set, shuffled anew each epoch from the seed."""

    items: list[Record]
    description: str
    seed: int
    skipped: Counter[str] = field(default_factory=Counter)

    def records(self, epoch: int) -> Iterator[Record]:
        return iter(_shuffled(self.items, self.seed, epoch))

    def is_empty(self) -> bool:
        return not self.items


@dataclass
class ShardSource:
    """Webdataset tar shards, in a shard order shuffled each epoch; members in their stored order."""

    shards: list[Path]
    description: str
    seed: int
    skipped: Counter[str] = field(default_factory=Counter)

    def records(self, epoch: int) -> Iterator[Record]:
        for shard in _shuffled(self.shards, self.seed, epoch):
            yield from self._read_shard(shard, counting=epoch == 0)  # a bad record is counted once, not per epoch

    def _read_shard(self, shard: Path, counting: bool) -> Iterator[Record]:
        skipped = self.skipped if counting else Counter[str]()
        try:
            with tarfile.open(shard, mode="r|*") as tar:
                group: dict[str, bytes] = {}
                current = None
                for member in tar:
                    if not member.isfile():
                        continue
                    key, suffix = _split_key(member.name)
                    if key != current:
                        yield from self._complete(shard, current, group, skipped)
                        current, group = key, {}
                    extracted = tar.extractfile(member)
                    if extracted is not None:
                        group[suffix] = extracted.read()
                yield from self._complete(shard, current, group, skipped)
        except (tarfile.TarError, OSError) as error:
            skipped[f"in an unreadable shard ({shard.name}: {error})"] += 1

    def _complete(
        self, shard: Path, key: str | None, group: dict[str, bytes], skipped: Counter[str]
    ) -> Iterator[Record]:
        if key is None:
            return
        image = next((group[suffix] for suffix in group if f".{suffix}" in IMAGE_SUFFIXES), None)
        if image is None:
            skipped[NO_IMAGE] += 1
        elif "txt" not in group:
            skipped[NO_CAPTION] += 1
        else:
            yield Record(f"{shard.name}:{key}", image, group["txt"].decode("utf-8", "replace").strip())

    def is_empty(self) -> bool:
        counted = Counter(self.skipped)
        empty = next(self.records(0), None) is None
        if not empty:
            self.skipped = counted  # the training stream counts these again when it meets them
        return empty


Source = ListSource | ShardSource


def _split_key(name: str) -> tuple[str, str]:
    """Webdataset's rule: the key is the path up to the first dot of the file name."""
    folder, _, base = name.rpartition("/")
    stem, _, suffix = base.partition(".")
    return f"{folder}/{stem}" if folder else stem, suffix.lower()


def open_source(data: Path, root: Path | None = None, seed: int = 0) -> Source:
    """The data set ``--data`` names; every problem is a ``SettingsError`` naming the flag."""
    if not data.exists():
        raise SettingsError("--data", f"no such file or folder: {data}")
    if data.is_file() and data.suffix == ".json":
        source: Source = _json_list(data, root or data.parent, seed)
    elif data.is_file() and data.suffix == ".tar":
        source = ShardSource([data], f"1 webdataset shard {data}", seed)
    elif data.is_dir() and (data / "metadata.jsonl").is_file():
        source = _image_folder(data, seed)
    elif data.is_dir() and (shards := sorted(data.glob("*.tar"))):
        source = ShardSource(shards, f"{len(shards)} webdataset shards in {data}", seed)
    elif data.is_dir():
        source = _captioned_folder(data, seed)
    else:
        raise SettingsError("--data", f"{data} is neither a folder, a .json list nor a .tar shard")
    if source.is_empty():
        raise SettingsError("--data", f"no usable items in {data}{describe_skipped(source.skipped)}")
    return source


def describe_skipped(skipped: Counter[str]) -> str:
    if not skipped:
        return ""
    parts = ", ".join(f"{count} {reason}" for reason, count in sorted(skipped.items()))
    return f" (skipped {sum(skipped.values())}: {parts})"


def _captioned_folder(folder: Path, seed: int) -> ListSource:
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    names = set(files)
    items, skipped = [], Counter[str]()
    for path in files:
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        caption = path.with_suffix(".txt")
        if caption in names:
            items.append(Record(str(path.relative_to(folder)), path, caption))
        else:
            skipped[NO_CAPTION] += 1
    return ListSource(items, f"{len(items)} captioned images in {folder}", seed, skipped)


def _json_list(path: Path, root: Path, seed: int) -> ListSource:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SettingsError("--data", f"cannot read {path} as JSON: {error}") from None
    if not isinstance(entries, list):
        raise SettingsError("--data", f'{path} must hold a list of {{"image_file": ..., "text": ...}}')
    return _listed(entries, "image_file", ("text",), root, f"{{n}} items of {path} under {root}", seed)


def _image_folder(folder: Path, seed: int) -> ListSource:
    entries: list[object] = []
    with (folder / "metadata.jsonl").open(encoding="utf-8") as lines:
        for line in filter(str.strip, lines):
            try:
                entries.append(json.loads(line))
            except ValueError:
                entries.append(None)
    return _listed(entries, "file_name", ("text", "caption"), folder, f"{{n}} items of {folder}/metadata.jsonl", seed)


def _listed(
    entries: list[object], file_key: str, caption_keys: tuple[str, ...], root: Path, description: str, seed: int
) -> ListSource:
    items, skipped = [], Counter[str]()
    for entry in entries:
        name = entry.get(file_key) if isinstance(entry, dict) else None
        caption = next((entry[key] for key in caption_keys if isinstance(entry, dict) and key in entry), None)
        if not isinstance(name, str) or not (root / name).is_file():
            skipped[NO_IMAGE] += 1
        elif not isinstance(caption, str):
            skipped[NO_CAPTION] += 1
        else:
            items.append(Record(name, root / name, caption))
    return ListSource(items, description.format(n=len(items)), seed, skipped)


# --- Batches -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """One process's share of a global micro-batch."""

    indices: list[int]  # global sample indices: positions in the record stream
    pixels: torch.Tensor  # (B, 3, R, R) in [-1, 1], for the VAE
    clip_pixels: torch.Tensor  # (B, 3, S, S), CLIP-normalised, for the image encoder
    captions: list[str]
    weights: torch.Tensor  # (B,) 1.0, or 0.0 for an image that could not be decoded
    original_sizes: torch.Tensor  # (B, 2) (height, width) before resizing, for SDXL's size conditioning
    crops_top_left: torch.Tensor  # (B, 2) (top, left) of the square cut from the resized image


def center_square(image: Image.Image, size: int) -> tuple[Image.Image, tuple[int, int]]:
    """Resize the short side to ``size`` and crop the centre, as the official training scripts do;
    with the crop's (top, left) in the resized image, which SDXL is told."""
    scale = size / min(image.size)
    width, height = max(size, round(image.width * scale)), max(size, round(image.height * scale))
    image = image.resize((width, height), Image.Resampling.BILINEAR)
    left, top = (width - size) // 2, (height - size) // 2
    return image.crop((left, top, left + size, top + size)), (top, left)


ClipPreprocess = Callable[[Image.Image], torch.Tensor]  # image -> (3, S, S)


@dataclass(frozen=True)
class _Decoded:
    pixels: torch.Tensor
    clip_pixels: torch.Tensor
    caption: str
    original_size: tuple[int, int]
    crop_top_left: tuple[int, int]
    weight: float = 1.0


class BatchReader:
    """Global micro-batches from a source; this process decodes only its own slice."""

    def __init__(
        self,
        source: Source,
        batch_size: int,
        resolution: int,
        clip_preprocess: ClipPreprocess,
        clip_size: int,
        num_processes: int = 1,
        process_index: int = 0,
        workers: int = 2,
    ) -> None:
        self.source = source
        self.batch_size = batch_size
        self.resolution = resolution
        self.clip_preprocess = clip_preprocess
        self.clip_size = clip_size
        self.num_processes = num_processes
        self.process_index = process_index
        self.unreadable: set[str] = set()  # keys of the images this process failed to decode
        self._pool = ThreadPoolExecutor(max(1, workers))

    @property
    def global_batch(self) -> int:
        return self.batch_size * self.num_processes

    def batches(self, start_record: int = 0) -> Generator[Batch, None, None]:
        """Endless micro-batches from stream position ``start_record`` on (a resumed run skips, undecoded,
        what it had read), made one ahead in a thread while the current one trains."""
        return _prefetched(self._batches(start_record), depth=2)

    def _batches(self, start_record: int) -> Iterator[Batch]:
        size = self.global_batch
        stream = enumerate(islice(self._endless(), start_record, None), start_record)
        while True:
            chunk = list(islice(stream, size))
            mine = chunk[self.process_index * self.batch_size : (self.process_index + 1) * self.batch_size]
            yield self._assemble(mine)

    def _endless(self) -> Iterator[Record]:
        epoch = 0
        while True:
            count = 0
            for count, record in enumerate(self.source.records(epoch), 1):
                yield record
            if count == 0:
                raise SettingsError("--data", f"no usable items in {self.source.description}")
            epoch += 1

    def _assemble(self, mine: list[tuple[int, Record]]) -> Batch:
        decoded = list(self._pool.map(self._decode, [record for _, record in mine]))
        samples = []
        for (_, record), result in zip(mine, decoded, strict=True):
            if result is None:
                self.unreadable.add(record.key)
                side, clip = self.resolution, self.clip_size
                result = _Decoded(torch.zeros(3, side, side), torch.zeros(3, clip, clip), "", (side, side), (0, 0), 0.0)
            samples.append(result)
        return Batch(
            indices=[index for index, _ in mine],
            pixels=torch.stack([sample.pixels for sample in samples]),
            clip_pixels=torch.stack([sample.clip_pixels for sample in samples]),
            captions=[sample.caption for sample in samples],
            weights=torch.tensor([sample.weight for sample in samples]),
            original_sizes=torch.tensor([sample.original_size for sample in samples]),
            crops_top_left=torch.tensor([sample.crop_top_left for sample in samples]),
        )

    def _decode(self, record: Record) -> _Decoded | None:
        try:
            source = io.BytesIO(record.image) if isinstance(record.image, bytes) else record.image
            image = load_image(source, record.key)
            caption = record.read_caption()
        except (ImageInputError, OSError, UnicodeDecodeError):
            return None
        square, crop_top_left = center_square(image, self.resolution)
        array = np.asarray(square, dtype=np.float32) / 127.5 - 1.0
        pixels = torch.from_numpy(array).permute(2, 0, 1).contiguous()
        return _Decoded(pixels, self.clip_preprocess(image), caption, (image.height, image.width), crop_top_left)

    def close(self) -> None:
        """Waits for the decoding threads: none may outlive the run (see ``_prefetched``)."""
        self._pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class _Failure:
    error: BaseException


def _prefetched(source: Iterator[Batch], depth: int) -> Generator[Batch, None, None]:
    """``source`` run ahead by up to ``depth`` items in a thread, its errors raised here, in order.

    Closing the generator stops the thread and joins it: a thread left running torch work while the
    interpreter exits aborts the process ("terminate called without an active exception", exit -6)."""
    queue: Queue[Batch | _Failure] = Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Batch | _Failure) -> None:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return
            except Full:
                continue

    def fill() -> None:
        try:
            for item in source:
                offer(item)
                if stop.is_set():
                    return
        except BaseException as error:  # noqa: BLE001 (handed to the consumer, which raises it)
            offer(_Failure(error))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=fill, name="batch-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = queue.get()
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()
