"""The request bodies, with A1111's field names and defaults (``modules/api/models.py``).

Only the fields we act on are declared; every other key is ignored, as A1111's models ignore them.
``refused_fields`` then looks at the fields that ask for what this server does not do: each is
accepted at its neutral value (what A1111 does when it is left out) and refused by name otherwise,
never ignored in silence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import bad_field
from ..inpaint_area import MAX_PADDING

FINITE = {"allow_inf_nan": False}


class Txt2ImgRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    prompt: str = ""
    negative_prompt: str = ""
    seed: int = -1
    sampler_name: str | None = None
    sampler_index: str | None = "Euler"
    scheduler: str | None = None
    steps: int = 50
    cfg_scale: float = Field(7.0, **FINITE)
    width: int | None = None  # A1111 says 512; here the base model's own default size
    height: int | None = None
    batch_size: int = 1
    n_iter: int = 1
    send_images: bool = True
    override_settings: dict[str, Any] = Field(default_factory=dict)
    alwayson_scripts: dict[str, Any] = Field(default_factory=dict)

    @property
    def sampler(self) -> str:
        return self.sampler_name or self.sampler_index or "Euler"


class Img2ImgRequest(Txt2ImgRequest):
    init_images: list[str] | None = None
    denoising_strength: float = Field(0.75, **FINITE)
    mask: str | None = None
    inpainting_mask_invert: int = 0
    mask_blur: int = 4
    inpainting_fill: int = 0  # default 0 "fill" (A1111's, webuiapi's); 1 "original"; 2 latent noise; 3 latent nothing
    inpaint_full_res: bool = True  # A1111's default (and webuiapi's): "Only masked"; false: "Whole picture"
    inpaint_full_res_padding: int = 0
    resize_mode: int = 0


class PngInfoRequest(BaseModel):
    image: str


class DetectRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    controlnet_module: str = "none"
    controlnet_input_images: list[str] = Field(default_factory=list)
    controlnet_images: list[str] | None = None  # what webuiapi sends
    controlnet_processor_res: int | None = None  # accepted; maps are made at the image's size
    controlnet_threshold_a: float = Field(-1, **FINITE)
    controlnet_threshold_b: float = Field(-1, **FINITE)


def _zero(value: Any) -> bool:
    return value in (None, 0, 0.0)


def _false(value: Any) -> bool:
    return value in (None, False)


def _empty(value: Any) -> bool:
    return value in (None, "", [], {})


def _one(value: Any) -> bool:
    return value in (None, 1, 1.0)


def _not_positive(value: Any) -> bool:
    return value is None or isinstance(value, (int, float)) and value <= 0


# field -> (is it neutral, what it would ask for)
NEUTRAL: dict[str, tuple[Callable[[Any], bool], str]] = {
    "enable_hr": (_false, "hires fix is not offered here"),
    "restore_faces": (_false, "face restoration is not offered here"),
    "tiling": (_false, "tiling is not offered here"),
    "styles": (_empty, "saved prompt styles are not offered here; put the text in the prompt"),
    "subseed_strength": (_zero, "variation seeds are not offered here"),
    "seed_resize_from_h": (_not_positive, "seed resizing is not offered here"),
    "seed_resize_from_w": (_not_positive, "seed resizing is not offered here"),
    "script_name": (_empty, "scripts are not offered here (only the controlnet always-on script)"),
    "script_args": (_empty, "scripts are not offered here"),
    "s_churn": (_zero, "sampler noise settings are not offered here"),
    "s_tmin": (_zero, "sampler noise settings are not offered here"),
    "s_tmax": (_zero, "sampler noise settings are not offered here"),
    "s_noise": (_one, "sampler noise settings are not offered here"),
    "eta": (_one, "eta is not offered here (the ancestral samplers use 1)"),
    "save_images": (_false, "the server does not keep images for API calls"),
    "refiner_checkpoint": (_empty, "refiner models are not offered here"),
    "initial_noise_multiplier": (_one, "a noise multiplier is not offered here"),
    "inpainting_fill": (
        lambda value: value in (None, 0, 1, 2, 3),
        "must be 0 (fill: the colours around the mask), 1 (original), 2 (latent noise) or 3 (latent nothing)",
    ),
    "image_cfg_scale": (lambda value: True, ""),  # instruct-pix2pix models only; A1111 ignores it for others too
}


def refused_fields(body: Mapping[str, Any], has_mask: bool = False) -> None:
    """Refuse, by name, the first field that asks for something this server does not do."""
    for name, (neutral, reason) in NEUTRAL.items():
        if name in body and not neutral(body[name]):
            raise bad_field(name, f"{reason} (got {body[name]!r})"[:300])
    padding = body.get("inpaint_full_res_padding")
    whole = isinstance(padding, int) and not isinstance(padding, bool)
    if has_mask and padding is not None and not (whole and 0 <= padding <= MAX_PADDING):
        raise bad_field("inpaint_full_res_padding", f"must be a whole number of pixels from 0 to {MAX_PADDING}, "
                        f"got {padding!r}"[:200])  # fmt: skip
