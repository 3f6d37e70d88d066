"""What a generation answers: ``{"images", "parameters", "info"}`` as A1111 writes them.

``images``: the generated PNGs (each with its A1111 ``parameters`` text, as the web app saves them),
then one detected map per ControlNet / T2I unit that did not ask ``save_detected_map: false``, as
the extension appends them. ``info``: a JSON string with A1111's keys (``all_seeds``, ``infotexts``,
``index_of_first_image``, ...). ``parameters``: the request as the client sent it, images left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from PIL import Image

from .base_models import model_identity
from .images import png_base64
from .mapping import ApiJob

IMAGE_FIELDS = ("init_images", "mask")


def info_json(job: ApiJob, results: Sequence[Any], engine: Any, timestamp: datetime, interrupted: bool) -> str:
    first = job.runs[0]
    seeds = [seed for result in results for seed in result.seeds]
    texts = [text for result in results for text in result.parameters]
    name, short_hash = model_identity(engine, first.base_model)
    info = {
        "prompt": first.prompt, "all_prompts": [first.prompt] * len(seeds),
        "negative_prompt": first.negative_prompt, "all_negative_prompts": [first.negative_prompt] * len(seeds),
        "seed": first.seed, "all_seeds": seeds, "subseed": -1, "all_subseeds": [-1] * len(seeds), "subseed_strength": 0,
        "width": first.width, "height": first.height, "sampler_name": job.sampler_name, "scheduler": first.scheduler,
        "cfg_scale": first.guidance, "steps": first.steps, "batch_size": first.num_images, "n_iter": job.n_iter,
        "restore_faces": False, "face_restoration_model": None, "sd_model_name": name, "sd_model_hash": short_hash,
        "sd_vae_name": None, "sd_vae_hash": None, "seed_resize_from_w": -1, "seed_resize_from_h": -1,
        "denoising_strength": first.strength if job.request.init_image is not None else 0,
        "extra_generation_params": {}, "index_of_first_image": 0, "infotexts": texts, "styles": [],
        "job_timestamp": timestamp.strftime("%Y%m%d%H%M%S"),
        "clip_skip": 1, "is_using_inpainting_conditioning": False, "version": "ipa_demo",
        "warnings": sorted({warning for result in results for warning in result.warnings}),
        "interrupted": interrupted,
    }  # fmt: skip
    return json.dumps(info)


def detected_maps(job: ApiJob, results: Sequence[Any]) -> list[Image.Image]:
    if not results:
        return []
    maps: Mapping[str, Image.Image] = results[0].control_maps
    return [maps[name] for name in job.map_names if name in maps]


def answer(job: ApiJob, results: Sequence[Any], engine: Any, body: Mapping[str, Any], send_images: bool,
           timestamp: datetime, interrupted: bool = False) -> dict[str, Any]:  # fmt: skip
    images: list[str] = []
    if send_images:
        made = [pair for result in results for pair in zip(result.images, result.parameters)]
        images = [png_base64(image, text) for image, text in made]
        images += [png_base64(image, None) for image in detected_maps(job, results)]
    parameters = {key: (None if key in IMAGE_FIELDS else value) for key, value in body.items()}
    parameters.pop("alwayson_scripts", None)
    parameters["alwayson_scripts"] = {}  # the units carry images; A1111 echoes them, we leave them out
    return {"images": images, "parameters": parameters, "info": info_json(job, results, engine, timestamp, interrupted)}
