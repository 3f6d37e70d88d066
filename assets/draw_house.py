"""Draws assets/house-edges.png: white lines on black, the look of a canny map (run once by hand)."""

from pathlib import Path

from PIL import Image, ImageDraw


def draw(size: int = 512) -> Image.Image:
    image = Image.new("RGB", (size, size), "black")
    pen = ImageDraw.Draw(image)
    line = {"fill": "white", "width": 3}
    pen.rectangle((128, 240, 384, 448), outline="white", width=3)  # walls
    pen.line((104, 250, 256, 120, 408, 250), **line, joint="curve")  # roof
    pen.rectangle((228, 336, 284, 448), outline="white", width=3)  # door
    for left in (152, 308):  # windows with crossbars
        pen.rectangle((left, 280, left + 52, 328), outline="white", width=3)
        pen.line((left + 26, 280, left + 26, 328), **line)
        pen.line((left, 304, left + 52, 304), **line)
    pen.line((316, 171, 316, 150, 348, 150, 348, 198), **line)  # chimney, standing on the roof
    pen.line((24, 448, 488, 448), **line)  # ground
    pen.ellipse((400, 48, 464, 112), outline="white", width=3)  # sun
    return image


if __name__ == "__main__":
    draw().save(Path(__file__).with_name("house-edges.png"), optimize=True)
