"""An A1111 request onto the app's one settings object, and its images within the memory budget.

The request becomes the same flat, named values the web app's ``/generate`` takes
(``settings.values``), and ``settings_from_values``, ``check_limits``, ``check_inputs`` and
``check_more_references`` judge it: there is no second set of rules here. What they refuse names
our setting; ``Names`` turns that back into the field the client wrote (``steps``, or
``alwayson_scripts.controlnet.args[1].weight``).

The extension's units map onto the settings' units: the first IP-Adapter unit is ``ip_*``, a second is
``ip2_*``, the first ControlNet and T2I-Adapter units share the request's one control image (and canny
thresholds), and the units after them are further units with their own images (``more_units``), up to
``IPA_MAX_UNITS`` of a kind; one reference-only unit, which reads the first IP unit's first image. A unit
past a limit is refused naming it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from PIL import Image, ImageOps

from ..inpainting import LatentFill
from ..ip_adapter.inputs import MoreReferences, check_more_references
from ..settings import GenerationSettings, Limits, SettingsError, check_inputs, check_limits
from ..mask_note import blurred_mask, mask_pairs
from ..settings.values import resolve_seed, settings_from_values, values_from_settings
from ..settings.units import check_unit_images
from ..ui.fields import Request
from ..ui.unit_fields import unit_images
from .errors import bad_field
from .images import EncodedImage, decode_all, image_bytes
from ..inpaint_area import InpaintArea
from .lists import sampler_of
from .models import Img2ImgRequest, Txt2ImgRequest
from .more_units import further_structure_roles, map_names, more_units, split_units
from .units import Unit, read_units

CONTROLNET_SCRIPT = "controlnet"
SHARED = "ControlNet and T2I-Adapter share one control image here"
REFERENCE_UNITS = 1
LATENT_FILLS: dict[int, LatentFill] = {2: "latent noise", 3: "latent nothing"}  # A1111's inpainting_fill
BASE_NAMES = {"guidance": "cfg_scale", "scheduler": "sampler_name", "num_images": "batch_size",
              "strength": "denoising_strength", "init_image": "init_images[0]", "mask_image": "mask"}  # fmt: skip


@dataclass
class Names:
    """Our setting names -> the client's fields, filled in as the request is mapped."""

    fields: dict[str, str] = field(default_factory=lambda: dict(BASE_NAMES))

    def of(self, name: str) -> str:
        return self.fields.get(name, name)

    @contextmanager
    def translated(self) -> Iterator[None]:
        try:
            yield
        except SettingsError as error:
            raise bad_field(self.of(error.field), error.reason) from None


@dataclass(frozen=True)
class ApiJob:
    """What one API call asks the engine for: one run per ``n_iter``, and what the answer adds."""

    runs: tuple[GenerationSettings, ...]
    request: Request
    map_units: tuple[Unit, ...]  # ControlNet / T2I units whose detected map the answer carries
    sampler_name: str
    n_iter: int
    map_names: tuple[str, ...] = ()  # those units' maps as the engine's result names them (``map_names``)
    mask_pairs: dict[str, str] = field(default_factory=dict)  # the PNG text's note of the mask, if any
    area: InpaintArea | None = None  # with a mask: where it is inpainted, how the result goes back
    latent_fill: LatentFill = "original"  # ``inpainting_fill`` 2 and 3


def _units(body: Mapping[str, Any], limits: Limits) -> list[Unit]:
    scripts = body.get("alwayson_scripts") or {}
    units: list[Unit] = []
    for name, script in scripts.items():
        if str(name).lower() != CONTROLNET_SCRIPT:
            reason = f"always on script {name} not found (this server has controlnet)"
            raise bad_field(f"alwayson_scripts.{name}", reason)
        units += read_units(script, f"alwayson_scripts.{name}")
    seen: dict[str, int] = {}
    for unit in units:
        seen[unit.role] = seen.get(unit.role, 0) + 1
        limit = REFERENCE_UNITS if unit.role == "reference" else limits.max_units
        if seen[unit.role] > limit:
            what = {"ip": "IP-Adapter", "controlnet": "ControlNet", "t2i": "T2I-Adapter", "reference": "reference-only"}
            raise bad_field(unit.field, f"at most {limit} {what[unit.role]} unit(s) per request on this server")
    return units


def _ip_unit(unit: Unit, prefix: str, values: dict[str, Any], names: Names) -> None:
    values.update({f"{prefix}_scale": unit.weight, f"{prefix}_variant": unit.kind,
                   f"{prefix}_start": unit.start, f"{prefix}_end": unit.end})  # fmt: skip
    if unit.layer_weights is not None:
        values[f"{prefix}_weights"] = list(unit.layer_weights)
    names.fields.update({f"{prefix}_scale": unit.at("weight"), f"{prefix}_variant": unit.at("model"),
                         f"{prefix}_start": unit.at("guidance_start"), f"{prefix}_end": unit.at("guidance_end"),
                         f"{prefix}_weights": unit.at("advanced_weighting")})  # fmt: skip


def _threshold(value: Any, default: Any) -> Any:
    return default if value in (-1, None) else value


def _structure_unit(unit: Unit, values: dict[str, Any], names: Names) -> None:
    if unit.role == "controlnet":
        values.update(controlnet=unit.kind, controlnet_scale=unit.weight, controlnet_start=unit.start,
                      controlnet_end=unit.end, guess_mode=unit.guess_mode, controlnet_soft=unit.soft)  # fmt: skip
        names.fields.update(controlnet=unit.at("model"), controlnet_scale=unit.at("weight"),
                            controlnet_start=unit.at("guidance_start"),
                            controlnet_end=unit.at("guidance_end"), controlnet_soft=unit.at("control_mode"),
                            guess_mode=unit.at("control_mode"))  # fmt: skip
    else:
        if unit.start not in (0, 0.0):
            raise bad_field(unit.at("guidance_start"), "a T2I-Adapter acts from the first step here: send 0")
        values.update(t2i=unit.kind, t2i_scale=unit.weight, t2i_factor=unit.end, t2i_soft=unit.soft)
        names.fields.update(t2i=unit.at("model"), t2i_scale=unit.at("weight"), t2i_factor=unit.at("guidance_end"),
                            t2i_soft=unit.at("control_mode"))  # fmt: skip
    values.update(control_is_map=unit.is_map, canny_low=_threshold(unit.threshold_a, values["canny_low"]),
                  canny_high=_threshold(unit.threshold_b, values["canny_high"]))  # fmt: skip
    names.fields.update(canny_low=unit.at("threshold_a"), canny_high=unit.at("threshold_b"),
                        control_image=unit.at("image"))  # fmt: skip


def _reference_unit(unit: Unit, values: dict[str, Any], names: Names) -> None:
    values.update(ref_only=unit.kind, ref_weight=unit.weight, ref_start=unit.start, ref_end=unit.end,
                  ref_fidelity=_threshold(unit.threshold_a, values["ref_fidelity"]))  # fmt: skip
    names.fields.update(ref_only=unit.at("module"), ref_weight=unit.at("weight"), ref_start=unit.at("guidance_start"),
                        ref_end=unit.at("guidance_end"), ref_fidelity=unit.at("threshold_a"))  # fmt: skip


def _fits(image_field: str, size: tuple[int, int], resize_mode: str, width: int, height: int,
          target: str = "output") -> None:  # fmt: skip
    """Only "Crop and Resize" is offered; the other modes give the same picture when the aspects match."""
    if resize_mode != "Crop and Resize" and size[0] * height != size[1] * width:
        raise bad_field(
            image_field,
            f"is {size[0]}x{size[1]}, another aspect than the {width}x{height} {target}, and only 'Crop and Resize' "
            f"is offered here (got {resize_mode!r}): send resize_mode 'Crop and Resize' (1) or an image of the "
            f"{target}'s aspect",
        )


class Mapper:
    """Maps one request; ``limits`` and ``max_image_bytes`` are the server's."""

    def __init__(self, limits: Limits, max_image_bytes: int) -> None:
        self.limits = limits
        self.max_image_bytes = max_image_bytes

    def job(self, body: Txt2ImgRequest, raw: Mapping[str, Any], base_model: str = "") -> ApiJob:
        names = Names()
        units = _units(raw, self.limits)
        values = values_from_settings(GenerationSettings(prompt=""))
        sampler = sampler_of(body.sampler, body.scheduler, ("sampler_name", "scheduler"))
        values.update(prompt=body.prompt, negative_prompt=body.negative_prompt, steps=body.steps,
                      guidance=body.cfg_scale, scheduler=sampler,
                      num_images=body.batch_size, ip_scale=0.0, base_model=base_model)  # fmt: skip
        values.update({side: getattr(body, side) for side in ("width", "height") if getattr(body, side) is not None})
        if isinstance(body, Img2ImgRequest):
            values["strength"] = body.denoising_strength
        encoded = self._unit_settings(units, values, names)
        with names.translated():
            seed = resolve_seed(body.seed)
            first = settings_from_values(values, seed)
            check_limits(first, self.limits)
        total = body.batch_size * body.n_iter
        if body.n_iter < 1 or total > self.limits.max_images:
            most = self.limits.max_images
            raise bad_field("n_iter", f"batch_size × n_iter must be 1 to {most} on this server, got {total}")
        encoded += self._img2img_images(body)
        request, area = self._request(first, encoded, units, body, names)
        with names.translated():  # the last run's seeds may pass the largest seed
            runs = tuple(replace(first, seed=seed + run * body.batch_size) for run in range(body.n_iter))
        maps = tuple(unit for unit in units if unit.role in ("controlnet", "t2i") and unit.save_detected_map)
        if area is None or not isinstance(body, Img2ImgRequest):
            return ApiJob(runs, request, maps, body.sampler, body.n_iter, map_names(units, maps))
        assert request.mask_image is not None
        fill = LATENT_FILLS.get(body.inpainting_fill, "original")
        noted = {**mask_pairs(request.mask_image, body.mask_blur), **area.pairs()}
        if fill != "original":
            noted["Masked content"] = fill
        return ApiJob(runs, request, maps, body.sampler, body.n_iter, map_names(units, maps), noted, area, fill)

    def _unit_settings(self, all_units: list[Unit], values: dict[str, Any], names: Names) -> list[EncodedImage]:
        encoded: list[EncodedImage] = []
        units, further = split_units(all_units)
        ip_units = [unit for unit in units if unit.role == "ip"]
        for unit, prefix, role, masks in zip(ip_units, ("ip", "ip2"), ("reference_images", "ip2_reference_images"),
                                             ("reference_masks", "ip2_masks")):  # fmt: skip
            _ip_unit(unit, prefix, values, names)
            names.fields.update({role: unit.at("image"), masks: unit.at("effective_region_mask")})
            encoded += [self._encoded(role, image.field, image.text) for image in unit.images]
            if unit.region is not None:  # one region for the unit: each of its references acts there
                region = self._encoded(masks, unit.region.field, unit.region.text, as_mask=True)
                encoded += [region] * len(unit.images)
        structure = [unit for unit in units if unit.role in ("controlnet", "t2i")]
        for unit in structure:
            _structure_unit(unit, values, names)
        if len(structure) == 2 and [i.text for i in structure[0].images] != [i.text for i in structure[1].images]:
            raise bad_field(structure[1].at("image"), f"{SHARED}: send the same image to both")
        if len(structure) == 2 and structure[0].is_map != structure[1].is_map:
            raise bad_field(structure[1].at("module"), f"{SHARED}: both preprocess it, or neither")
        if structure and structure[0].images:
            encoded.append(self._encoded("control_image", structure[0].at("image"), structure[0].images[0].text))
        for unit in (unit for unit in units if unit.role == "reference"):
            _reference_unit(unit, values, names)
            if not unit.images:
                raise bad_field(unit.at("image"), "reference-only needs an image")
            if ip_units and ip_units[0].images and ip_units[0].images[0].text != unit.images[0].text:
                reason = "reference-only uses the first IP-Adapter unit's first image here: send the same image"
                raise bad_field(unit.at("image"), f"{reason}, or no IP unit")
            if not ip_units:
                encoded.append(self._encoded("reference_images", unit.at("image"), unit.images[0].text))
                names.fields["reference_images"] = unit.at("image")
        return encoded + more_units(further, values, names.fields, self._encoded)

    def _encoded(self, role: str, field_name: str, text: str, as_mask: bool = False) -> EncodedImage:
        return EncodedImage(role, field_name, image_bytes(text, field_name, self.max_image_bytes), as_mask)

    def _img2img_images(self, body: Txt2ImgRequest) -> list[EncodedImage]:
        if not isinstance(body, Img2ImgRequest):
            return []
        if not body.init_images:
            raise bad_field("init_images", "img2img needs one init image")
        if len(body.init_images) > 1:
            raise bad_field("init_images", f"takes one image here, got {len(body.init_images)}")
        encoded = [self._encoded("init_image", "init_images[0]", body.init_images[0])]
        if body.mask is not None:
            encoded.append(self._encoded("mask_image", "mask", body.mask))
        return encoded

    def _request(self, settings: GenerationSettings, encoded: list[EncodedImage], units: list[Unit],
                 body: Txt2ImgRequest, names: Names) -> tuple[Request, InpaintArea | None]:  # fmt: skip
        decoded = decode_all(encoded, self.limits)
        by_role: dict[str, list[Image.Image]] = {}
        for image, item in zip(decoded, encoded, strict=True):
            by_role.setdefault(item.role, []).append(image)
        init = next(iter(by_role.get("init_image", ())), None)
        mask = self._mask(next(iter(by_role.get("mask_image", ())), None), body)
        size, area = (settings.width, settings.height), None
        if mask is not None and init is not None and isinstance(body, Img2ImgRequest):
            area = InpaintArea.of(init, mask, body.inpaint_full_res, body.inpaint_full_res_padding, size)
            mask = mask if area is not None else None  # "Only masked" with nothing masked: plain img2img
            answered = init.width * init.height * body.batch_size * body.n_iter
            if area is not None and area.box is not None and answered > self.limits.max_request_pixels:
                raise bad_field("inpaint_full_res", f"answers {body.batch_size * body.n_iter} image(s) at the init "
                                f"image's {init.width}x{init.height}: more than this server's "
                                f"{self.limits.max_request_pixels} pixels; send false, or fewer images")  # fmt: skip
        only_masked = area is not None and area.box is not None
        self._structure_images(units, by_role, area if only_masked else None, size)
        control = next(iter(by_role.get("control_image", ())), None)
        if isinstance(body, Img2ImgRequest) and init is not None and not only_masked:
            _fits("init_images[0]", init.size, {0: "Just Resize", 1: "Crop and Resize"}.get(body.resize_mode, "other"),
                  settings.width, settings.height)  # fmt: skip
        if area is not None and isinstance(body, Img2ImgRequest):
            init, mask = area.engine_start(size, fill=body.inpainting_fill == 0)  # "Only masked": the box's part
        references = tuple(by_role.get("reference_images", ()))
        more = MoreReferences(reference_masks=tuple(by_role.get("reference_masks", ())),
                              ip2_references=tuple(by_role.get("ip2_reference_images", ())),
                              ip2_masks=tuple(by_role.get("ip2_masks", ())))  # fmt: skip
        units_images = unit_images(settings, by_role)
        with names.translated():
            check_inputs(settings, references, init, control)
            check_more_references(settings, references, more)
            check_unit_images(settings, units_images)
        return Request(settings, references, init, control, mask, more, units_images), area

    @staticmethod
    def _structure_images(units: list[Unit], by_role: dict[str, list[Image.Image]], area: InpaintArea | None,
                          size: tuple[int, int]) -> None:  # fmt: skip
        """Check each ControlNet / T2I unit's image against what it is fitted to (the output, or for "Only
        masked" the init image), and cut it as the init image is cut where the unit asks (``area``)."""
        first, further = split_units(units)
        roles = [(unit, "control_image") for unit in first if unit.role in ("controlnet", "t2i")]
        roles += further_structure_roles(further)
        target = size if area is None else area.init.size
        for unit, role in roles:
            for image in by_role.get(role, ())[:1]:
                _fits(unit.at("image"), image.size, unit.resize_mode, *target, "init image" if area else "output")
        if area is None:
            return
        cut = {role for unit, role in roles if unit.crop_input and role != "control_image"}
        if roles and roles[0][1] == "control_image" and roles[0][0].crop_input:  # shared: the first unit says
            cut.add("control_image")
        for role in cut:
            by_role[role] = [area.cropped(image, size) for image in by_role.get(role, ())]

    @staticmethod
    def _mask(mask: Image.Image | None, body: Txt2ImgRequest) -> Image.Image | None:
        """A1111's mask: white repaints; ``inpainting_mask_invert`` swaps that, ``mask_blur`` softens its edge."""
        if mask is None or not isinstance(body, Img2ImgRequest):
            return None
        if body.inpainting_mask_invert not in (0, 1):
            raise bad_field("inpainting_mask_invert", f"must be 0 or 1, got {body.inpainting_mask_invert}")
        if not 0 <= body.mask_blur <= 64:
            raise bad_field("mask_blur", f"must be 0 to 64 pixels, got {body.mask_blur}")
        grey = mask.convert("L")
        if body.inpainting_mask_invert:
            grey = ImageOps.invert(grey)
        return blurred_mask(grey, body.mask_blur)
