"""Where an img2img-with-mask request is inpainted and how its result goes back over the init image.

A1111 offers two inpaint areas. "Whole picture" (``inpaint_full_res: false``): the init image and the
mask are fitted to the output size, the whole picture is generated, and the result is pasted back over
the fitted init image through the blurred mask doubled, as A1111 pastes it (``mask_note.pasted_over``).
"Only masked" (``inpaint_full_res: true``, webuiapi's default): the blurred mask's bounding box, grown by
``inpaint_full_res_padding`` pixels and then to the output's aspect ratio (``crop_box``), is cut out of
the init image at its own size, generated at the request's width × height, scaled back to the box and
pasted into the init image through the blurred mask, so that the answer has the init image's size and,
outside the box, its very pixels. A ControlNet or T2I-Adapter unit's image is cut the same way (fitted to
the init image, the box's part at the output size), as the extension does unless the unit says
``inpaint_crop_input_image: false``; IP-Adapter and reference images are not cut here. A blank mask has
no box: A1111 then runs plain img2img, without the mask, and so do we.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from PIL import Image

from .mask_note import pasted_back, pasted_over
from .masked_fill import masked_fill
from .settings.units import StructureImages, UnitImages
from .structure.control_maps import fit_to_size

Box = tuple[int, int, int, int]  # left, top, right, bottom (exclusive), in the init image's pixels
MAX_PADDING = 256  # pixels: A1111's slider's maximum


def _grown(low: int, high: int, wanted: int, limit: int) -> tuple[int, int]:
    """``low``-``high`` grown by ``wanted`` pixels, split evenly (the odd one after), then moved back
    inside ``0``-``limit`` and, if still too long, cut at ``limit``."""
    low, high = low - wanted // 2, high + wanted - wanted // 2
    if high > limit:
        low, high = low - (high - limit), limit
    if low < 0:
        low, high = 0, high - low
    return low, min(high, limit)


def crop_box(mask: Image.Image, padding: int, width: int, height: int) -> Box | None:
    """A1111's "Only masked" region of ``mask`` (white: repaint), or None when nothing is masked: the
    mask's bounding box, ``padding`` pixels wider on each side (within the picture), grown along its
    short side to the ``width``:``height`` aspect ratio, centred where the picture allows."""
    grey = mask.convert("L")
    bounds = grey.getbbox()
    if bounds is None:
        return None
    left, top, right, bottom = bounds
    left, top = max(left - padding, 0), max(top - padding, 0)
    right, bottom = min(right + padding, grey.width), min(bottom + padding, grey.height)
    box_width, box_height = right - left, bottom - top
    if box_width * height > box_height * width:  # wider than the output: grow its height
        top, bottom = _grown(top, bottom, int(box_width * height / width - box_height), grey.height)
    else:
        left, right = _grown(left, right, int(box_height * width / height - box_width), grey.width)
    return left, top, right, bottom


@dataclass(frozen=True)
class InpaintArea:
    """One request's area: the init image and mask the engine gets, and how its images go back."""

    init: Image.Image  # the init image as the client sent it (before any fill)
    mask: Image.Image  # the blurred mask, at the init image's size for "Only masked"
    box: Box | None  # "Only masked": the region generated; None: the whole picture
    padding: int = 0

    @classmethod
    def of(cls, init: Image.Image, mask: Image.Image, only_masked: bool, padding: int,
           size: tuple[int, int]) -> InpaintArea | None:  # fmt: skip
        """The area, or None for "Only masked" with a blank mask: plain img2img then, as in A1111."""
        if not only_masked:
            return cls(init, mask, None)
        mask = mask if mask.size == init.size else fit_to_size(mask, *init.size)
        box = crop_box(mask, padding, *size)
        return None if box is None else cls(init, mask, box, padding)

    def engine_images(self, size: tuple[int, int]) -> tuple[Image.Image, Image.Image]:
        """(init image, mask) for the engine: the box's part at the output size, or both as given."""
        if self.box is None:
            return self.init, self.mask
        return (self.init.convert("RGB").crop(self.box).resize(size, Image.LANCZOS),
                self.mask.convert("RGB").crop(self.box).resize(size, Image.LANCZOS))  # fmt: skip

    def engine_start(self, size: tuple[int, int], fill: bool) -> tuple[Image.Image, Image.Image]:
        """``engine_images``, with the masked part washed over by the colours around it for A1111's "fill"
        (``inpainting_fill`` 0), at the output size, as A1111 fills the resized image."""
        init, mask = self.engine_images(size)
        if fill:
            init = masked_fill(fit_to_size(init, *size), fit_to_size(mask, *size))
        return init, mask

    def cropped(self, image: Image.Image, size: tuple[int, int]) -> Image.Image:
        """A unit's image as the extension crops it for "Only masked": fitted to the init image, the box's
        part, at the output size."""
        if self.box is None:
            return image
        return fit_to_size(image, *self.init.size).crop(self.box).resize(size, Image.LANCZOS)

    def cropped_units(self, units: UnitImages, size: tuple[int, int]) -> UnitImages:
        """Every further ControlNet / T2I-Adapter unit's photo or map (and region mask) cut as ``cropped``
        cuts one: the extension's default for each unit."""
        if self.box is None:
            return units

        def cut(unit: StructureImages) -> StructureImages:
            parts = {name: getattr(unit, name) for name in ("image", "map", "mask")}
            return replace(unit, **{name: self.cropped(part, size) for name, part in parts.items() if part is not None})

        controlnet_mask = units.controlnet_mask and self.cropped(units.controlnet_mask, size)
        return replace(units, controlnet=tuple(map(cut, units.controlnet)), t2i=tuple(map(cut, units.t2i)),
                       controlnet_mask=controlnet_mask)  # fmt: skip

    def pasted(self, images: Sequence[Image.Image]) -> list[Image.Image]:
        """The generated images over the init image: through the blurred mask doubled for the whole picture,
        through the blurred mask itself for "Only masked", as A1111 pastes each."""
        if self.box is None:
            return pasted_over(images, self.init, self.mask)
        left, top, right, bottom = self.box
        base = self.init.convert("RGB")
        pasted = []
        for image in images:
            canvas = base.copy()
            canvas.paste(fit_to_size(image, right - left, bottom - top), (left, top))
            pasted.append(pasted_back(canvas, base, self.mask))
        return pasted

    def pairs(self) -> dict[str, str]:
        """What A1111 adds to the PNG text for "Only masked"."""
        if self.box is None:
            return {}
        return {"Inpaint area": "Only masked", "Masked area padding": str(self.padding)}
