"""What the web app hands back: PNG files that carry their settings, and the views built on them.

Gradio re-encodes images it gets as arrays or PIL objects (WebP by default), which drops the PNG
``parameters`` text; files it gets as paths are served as they are. So every output image is
written here first, with its text, and the components get paths.
"""

from __future__ import annotations

import itertools
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image, ImageOps

from ..metadata import save_png

MAX_AGE_SECONDS = 2 * 60 * 60  # files older than this are gone; Gradio keeps its own copies meanwhile


class OutputStore:
    """A folder of output PNGs with unique names; old files are pruned as new ones arrive."""

    def __init__(self, folder: Path | None = None, max_age: float = MAX_AGE_SECONDS) -> None:
        self.folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="ipa_demo-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_age = max_age
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def _name(self, stem: str, suffix: str = ".png") -> Path:
        with self._lock:
            number = next(self._counter)
        return self.folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{number:05d}-{stem}{suffix}"

    def save(self, image: Image.Image, stem: str, parameters: str | None = None) -> str:
        self.prune()
        path = self._name(stem)
        if parameters is None:
            image.save(path)
        else:
            save_png(image, path, parameters)
        return str(path)

    def archive(self, write: Callable[[Path], object], stem: str) -> str:
        """A zip of the files ``write`` puts in an empty folder (a sweep's cells, say)."""
        self.prune()
        path = self._name(stem, ".zip")
        with tempfile.TemporaryDirectory(prefix="ipa_demo-archive-") as folder:
            write(Path(folder))
            with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
                for file in sorted(Path(folder).iterdir()):
                    archive.write(file, file.name)
        return str(path)

    def prune(self) -> None:
        limit = time.time() - self.max_age
        for path in [*self.folder.glob("*.png"), *self.folder.glob("*.zip")]:
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
            except FileNotFoundError:  # another request pruned it first
                pass


def slider_pair(before: Image.Image | None, after_path: str | None, store: OutputStore) -> tuple[str, str] | None:
    """The before/after pair for gr.ImageSlider: ``before`` cropped to the output's size."""
    if before is None or after_path is None:
        return None
    with Image.open(after_path) as after:
        size = after.size
    fitted = ImageOps.fit(before.convert("RGB"), size, Image.Resampling.LANCZOS)
    return store.save(fitted, "before"), after_path


def with_warnings(text: str, warnings: Sequence[str]) -> str:
    """An info text with the run's warnings below it, where API callers (who see no toast) read them."""
    return "\n\n".join([text, *(f"Warning: {warning}" for warning in warnings)])


def seed_caption(seed: int) -> str:
    return f"seed {seed}"


def comparison_caption(label: str, similarity: float, seconds: float) -> str:
    return f"{label} · similarity {similarity:.3f} · {seconds:.1f} s"


def comparison_rows(entries: Sequence[object]) -> list[list[object]]:
    """One table row per comparison entry: label, similarity to the reference, seconds."""
    return [
        [entry.label, round(float(entry.similarity), 4), round(float(entry.seconds), 2)]  # type: ignore[attr-defined]
        for entry in entries
    ]


COMPARISON_HEADERS = ["method", "similarity to reference", "seconds"]
