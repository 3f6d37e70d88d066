"""Captions for the comparison grid: a font that has λ, and lines that fit under a tile.

Pillow's built-in font has no λ (it drew an empty box), so DejaVu Sans is used where it can be
found (matplotlib ships it; Debian's fonts-dejavu installs it); without it, "λ" is written as
"lambda". Labels are wrapped at the tile's width, and a word wider than the tile is broken, so that
neighbouring captions never run into each other, even under 64-pixel tiles.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
MARGIN = 3  # pixels between a caption and its tile's edges
_NOT_A_CHARACTER = "\ue000"  # a private-use code point: every font draws its "missing" glyph for it


def _font_files() -> list[str]:
    files = []
    try:
        import matplotlib

        files.append(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"))
    except ImportError:
        pass
    return [*files, "DejaVuSans.ttf"]  # a bare name: Pillow looks in the system's font folders


@lru_cache(maxsize=8)
def label_font(size: int) -> Font:
    for file in _font_files():
        try:
            return ImageFont.truetype(file, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def _rendered(character: str, font: Font) -> bytes:
    canvas = Image.new("L", (64, 64))
    ImageDraw.Draw(canvas).text((4, 4), character, fill=255, font=font)
    return canvas.tobytes()


def has_glyph(font: Font, character: str) -> bool:
    return _rendered(character, font) != _rendered(_NOT_A_CHARACTER, font)


def drawable(text: str, font: Font) -> str:
    return text if has_glyph(font, "λ") else text.replace("λ", "lambda")


def _width(text: str, font: Font) -> float:
    return font.getlength(text)


def _broken(word: str, font: Font, width: float) -> list[str]:
    """A word cut into pieces that each fit ``width`` (at least one character each)."""
    pieces, piece = [], ""
    for character in word:
        if piece and _width(piece + character, font) > width:
            pieces.append(piece)
            piece = ""
        piece += character
    return [*pieces, piece] if piece else pieces


def wrap(text: str, font: Font, width: float) -> list[str]:
    """``text``'s lines (it may hold newlines), each at most ``width`` pixels wide."""
    lines: list[str] = []
    for paragraph in drawable(text, font).split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if _width(candidate, font) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            *full, line = _broken(word, font, width)
            lines.extend(full)
        lines.append(line)
    return lines


def font_size_for(tile_width: int) -> int:
    return max(8, min(16, tile_width // 20))


def line_height(font: Font) -> int:
    _, top, _, bottom = font.getbbox("Ag|λ")
    return int(bottom - top) + 2


def caption_height(captions: list[list[str]], font: Font) -> int:
    return max(len(lines) for lines in captions) * line_height(font) + 2 * MARGIN


def draw_caption(draw: ImageDraw.ImageDraw, lines: list[str], origin: tuple[int, int], font: Font) -> None:
    x, y = origin
    for index, line in enumerate(lines):
        draw.text((x + MARGIN, y + MARGIN + index * line_height(font)), line, fill="black", font=font)
