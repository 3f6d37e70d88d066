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

from gradio.utils import get_upload_folder
from PIL import Image, ImageOps

from ..metadata import save_png
from ..settings.megabytes import megabytes

MAX_AGE_SECONDS = 2 * 60 * 60  # files older than this are gone; Gradio keeps its own copies meanwhile
OUTPUT_BUDGET_ENV = "IPA_MAX_OUTPUT_MB"
# Both copies of the outputs together: ours and the one Gradio keeps in its cache when it serves a file.
# A 32-cell 1024² sweep takes about 450 MB of it; 2 GB keeps a few sweeps and hundreds of images.
DEFAULT_OUTPUT_MB = 2048.0
COPIES = 2  # each output is on disk twice: here, and in Gradio's cache once returned


def output_budget_bytes() -> int:
    """The disk the outputs may take, both copies counted, from IPA_MAX_OUTPUT_MB (default 2048)."""
    return megabytes(OUTPUT_BUDGET_ENV, DEFAULT_OUTPUT_MB)


class OutputStore:
    """A folder of output PNGs with unique names; old files are pruned as new ones arrive."""

    def __init__(
        self,
        folder: Path | None = None,
        max_age: float = MAX_AGE_SECONDS,
        max_bytes: int | None = None,
        cache: Path | None = None,
    ) -> None:
        """``max_bytes``: both copies of the outputs together (IPA_MAX_OUTPUT_MB); ``cache``: Gradio's folder,
        where it keeps a copy of each output it served (its upload folder)."""
        self.folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="ipa_demo-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_age = max_age
        self.max_bytes = output_budget_bytes() if max_bytes is None else max_bytes
        self.cache = cache
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
        self.prune()
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
        self.prune()
        return str(path)

    def prune(self) -> None:
        """Remove outputs older than ``max_age``, then the oldest until both copies fit ``max_bytes``
        (the newest file stays, whatever its size), each with Gradio's copies of it."""
        files = []
        for path in [*self.folder.glob("*.png"), *self.folder.glob("*.zip")]:
            try:
                status = path.stat()
            except FileNotFoundError:  # another request pruned it first
                continue
            files.append((status.st_mtime, status.st_size, path))
        files.sort()
        limit = time.time() - self.max_age
        total = sum(size for _, size, _ in files) * COPIES
        for index, (modified, size, path) in enumerate(files):
            if modified >= limit and (total <= self.max_bytes or index == len(files) - 1):
                break
            self._remove(path)
            total -= size * COPIES

    def _remove(self, path: Path) -> None:
        cache = self.cache or Path(get_upload_folder())
        for copy in [path, *cache.glob(f"*/{path.name}")]:  # Gradio's copies: <cache>/<hash>/<our name>
            try:
                copy.unlink()
            except FileNotFoundError:
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
