"""The API app: A1111's ``/sdapi/v1`` routes and the ControlNet extension's ``/controlnet`` routes.

Generations run on the web app's engine, behind its gate (``gpu_gate``): the engine given here is
the ``GatedEngine`` that the web handlers use too, so an API job waits for the GPU slots that
Gradio's ``concurrency_id="gpu"`` events hold, and a web event waits for a running API job; neither
runs beside the other. (Running API jobs through Gradio's own queue would need a fake session per
HTTP call and would tie these routes to Gradio's private queue; one gate that every engine call
passes is smaller and holds for any caller.) Routes are plain functions, which FastAPI runs in its
worker threads, so a job that waits for the gate blocks no other request. On ZeroGPU the GPU is
lent only inside Gradio's queued events, so generating routes answer 503 there.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime
from typing import Any

from fastapi import Body, Depends, FastAPI, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import ValidationError

from ..loop import GenerationCancelled
from ..mask_note import with_mask_notes
from ..settings import Limits
from ..ui.clients import ClientPolicy
from ..zerogpu import on_zero_gpu
from .base_models import make_default, model_identity, requested_model, sd_models, title
from .detect import detect_maps
from .errors import ApiError, bad_field, install_handlers
from .images import image_bytes
from .jobs import Jobs
from .lists import CONTROL_MODELS, samplers, schedulers
from .mapping import Mapper
from .models import Img2ImgRequest, PngInfoRequest, Txt2ImgRequest, refused_fields
from .options import ApiOptions
from .png_info import png_info
from .responses import answer
from .units import MODULES

VERSION = 2  # the extension's API version that clients check
_basic = HTTPBasic(auto_error=False)
NEUTRAL_OVERRIDES = {("CLIP_stop_at_last_layers", 1), ("sd_vae", "Automatic"), ("sd_vae", "None")}


def _parsed(kind: type[Txt2ImgRequest], body: Any) -> Txt2ImgRequest:
    if not isinstance(body, dict):
        raise bad_field("body", "must be a JSON object")
    try:
        return kind.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise bad_field(where, first["msg"]) from None


class SdApi:
    """The routes' shared state: the gated engine, the server's limits, the callers' jobs."""

    def __init__(self, engine: Any, limits: Limits, options: ApiOptions, max_image_bytes: int, max_jobs: int) -> None:
        self.engine = engine
        self.limits = limits
        self.options = options
        self.mapper = Mapper(limits, max_image_bytes)
        self.max_image_bytes = max_image_bytes
        self.jobs = Jobs(max_jobs)
        self.clients = ClientPolicy.from_env()  # the address a trusted proxy forwarded, as for the web app

    def caller(self, request: Request, credentials: HTTPBasicCredentials | None = Depends(_basic)) -> str:  # noqa: B008
        """Who calls: the Basic user when the API is protected (and it must be one), else the address."""
        if not self.options.credentials:
            return f"address:{self.clients.client_of(request)}"
        if credentials is not None:
            password = self.options.credentials.get(credentials.username)
            if password is not None and secrets.compare_digest(credentials.password.encode(), password.encode()):
                return f"user:{credentials.username}"
        raise ApiError(401, None, "Incorrect username or password", {"WWW-Authenticate": "Basic"})

    def requested_model(self, override: dict[str, Any]) -> str:
        """The base model this request names in ``override_settings`` ("": the server's default)."""
        name = ""
        for key, value in override.items():
            if key == "sd_model_checkpoint":
                name = requested_model(self.engine, value, f"override_settings.{key}")
            elif (key, value) not in NEUTRAL_OVERRIDES:
                raise bad_field(f"override_settings.{key}", "is not offered here (only sd_model_checkpoint)")
        return name

    def generate(self, kind: type[Txt2ImgRequest], raw: Any, caller: str) -> dict[str, Any]:
        if on_zero_gpu():
            raise ApiError(503, None, "On ZeroGPU the GPU is lent only to the web app's queued events: use the "
                           "Gradio API (/generate) on this Space")  # fmt: skip
        body = _parsed(kind, raw)
        refused_fields(raw, has_mask=raw.get("mask") is not None)
        base_model = self.requested_model(body.override_settings)
        job = self.mapper.job(body, raw, base_model)
        timestamp = datetime.now()
        results, interrupted = [], False
        with self.jobs.job(caller, len(job.runs)) as state:
            try:
                for number, settings in enumerate(job.runs):
                    state.job_no = number
                    request = job.request
                    result = self.engine.generate(
                        settings, request.references, request.init_image, request.control_image,
                        on_step=state.on_step, mask_image=request.mask_image, more=request.more, units=request.units,
                        **({"latent_fill": job.latent_fill} if job.latent_fill != "original" else {}),  # as asked
                    )  # fmt: skip
                    if job.area is not None:  # A1111's overlay: the result back over the init image
                        result = replace(result, images=job.area.pasted(result.images))
                    results.append(with_mask_notes(result, job.mask_pairs))
            except GenerationCancelled:
                interrupted = True
        return answer(job, results, self.engine, raw, body.send_images, timestamp, interrupted)


def create_api(engine: Any, limits: Limits, options: ApiOptions, *, max_image_bytes: int, max_jobs: int) -> FastAPI:
    """The API app around ``engine`` (the web app's ``GatedEngine``)."""
    api = SdApi(engine, limits, options, max_image_bytes, max_jobs)
    app = FastAPI(title="ipa_demo A1111 API", docs_url=None, redoc_url=None, openapi_url=None)
    install_handlers(app)
    caller = Depends(api.caller)

    @app.post("/sdapi/v1/txt2img")
    def txt2img(body: Any = Body(...), who: str = caller) -> dict[str, Any]:  # noqa: B008
        return api.generate(Txt2ImgRequest, body, who)

    @app.post("/sdapi/v1/img2img")
    def img2img(body: Any = Body(...), who: str = caller) -> dict[str, Any]:  # noqa: B008
        return api.generate(Img2ImgRequest, body, who)

    @app.get("/sdapi/v1/progress")
    def progress(who: str = caller) -> dict[str, Any]:
        return api.jobs.progress(who)

    @app.post("/sdapi/v1/interrupt")
    def interrupt(who: str = caller) -> dict[str, Any]:
        api.jobs.interrupt(who)
        return {}

    @app.post("/sdapi/v1/png-info")
    def png_info_route(body: PngInfoRequest, who: str = caller) -> dict[str, Any]:
        return png_info(image_bytes(body.image.strip(), "image", api.max_image_bytes))

    _add_lists(app, api, caller)
    _add_controlnet(app, api, caller)
    return app


def _add_lists(app: FastAPI, api: SdApi, caller: Any) -> None:
    @app.get("/sdapi/v1/sd-models")
    def sd_models_route(who: str = caller) -> list[dict[str, Any]]:
        return sd_models(api.engine)

    @app.get("/sdapi/v1/options")
    def get_options(who: str = caller) -> dict[str, Any]:
        return {"sd_model_checkpoint": title(*model_identity(api.engine)), "sd_vae": "Automatic",
                "CLIP_stop_at_last_layers": 1, "samples_format": "png"}  # fmt: skip

    @app.post("/sdapi/v1/options")
    def set_options(body: Any = Body(...), who: str = caller) -> dict[str, Any]:  # noqa: B008
        if not api.options.credentials:
            raise ApiError(403, None, "Changing the server's options is refused on an open API (start it with "
                           "--api-auth); send override_settings with each request instead")  # fmt: skip
        if not isinstance(body, dict):
            raise bad_field("body", "must be a JSON object")
        for key in body:
            if key != "sd_model_checkpoint":
                raise bad_field(key, "is not an option this server changes (only sd_model_checkpoint)")
        if "sd_model_checkpoint" in body:
            make_default(api.engine, body["sd_model_checkpoint"], "sd_model_checkpoint")
        return {}

    listed = {"samplers": samplers, "schedulers": schedulers}
    for path, make in listed.items():
        app.add_api_route(f"/sdapi/v1/{path}", lambda who=caller, make=make: make(), methods=["GET"])
    for path in ("sd-vae", "upscalers", "hypernetworks", "face-restorers", "prompt-styles", "latent-upscale-modes"):
        app.add_api_route(f"/sdapi/v1/{path}", lambda who=caller: [], methods=["GET"])

    @app.get("/sdapi/v1/loras")
    def loras(who: str = caller) -> list[dict[str, Any]]:
        library = getattr(api.engine, "loras", None)
        return [{"name": name, "alias": name, "path": None, "metadata": {}} for name in getattr(library, "names", ())]

    @app.get("/sdapi/v1/scripts")
    def scripts(who: str = caller) -> dict[str, list[str]]:
        return {"txt2img": ["controlnet"], "img2img": ["controlnet"]}


def _add_controlnet(app: FastAPI, api: SdApi, caller: Any) -> None:
    @app.get("/controlnet/version")
    def version(who: str = caller) -> dict[str, int]:
        return {"version": VERSION}

    @app.get("/controlnet/model_list")
    def model_list(who: str = caller) -> dict[str, list[str]]:
        return {"model_list": [model.title for model in CONTROL_MODELS]}

    @app.get("/controlnet/module_list")
    def module_list(alias_names: bool = False, who: str = caller) -> dict[str, Any]:
        detail = {module: {"model_free": False, "sliders": []} for module in MODULES}
        return {"module_list": list(MODULES), "module_detail": detail}

    @app.post("/controlnet/detect")
    def detect(body: Any = Body(...), who: str = caller) -> dict[str, Any]:  # noqa: B008
        if on_zero_gpu():
            raise ApiError(503, None, "On ZeroGPU the GPU is lent only to the web app's queued events")
        return detect_maps(api.engine, body, api.limits, api.max_image_bytes)
