"""A small thread-safe LRU cache for work that depends only on its inputs (encodings, maps)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from PIL import Image

Value = TypeVar("Value")


class LRUCache(Generic[Value]):
    def __init__(self, size: int) -> None:
        self._items: OrderedDict[Hashable, Value] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self.misses = 0  # how often ``make`` ran: tests count it to prove reuse

    def get_or_make(self, key: Hashable, make: Callable[[], Value]) -> Value:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()  # outside the lock: two threads may both make it, and both get a right answer
        with self._lock:
            self.misses += 1
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def image_digest(image: Image.Image) -> str:
    """A key for an image's exact pixels."""
    digest = hashlib.sha256(f"{image.mode}{image.size}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()
