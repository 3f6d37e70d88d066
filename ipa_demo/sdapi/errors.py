"""Errors as A1111's API answers them: ``{"error", "detail", "body", "errors"}`` with a status code.

A bad request is a 422 whose ``detail`` starts with the request field it is about, written as the
client wrote it (``alwayson_scripts.controlnet.args[1].weight``); our own setting names never reach
the caller. Anything unexpected is a 500 with a fixed text (the traceback goes to the server log).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..errors import CheckpointError, MissingModelError, ModelLoadError, OutOfMemoryError
from ..loop import GenerationCancelled

log = logging.getLogger("ipa_demo.sdapi")
INTERNAL = "Something went wrong on the server; the details are in its log."


class ApiError(Exception):
    """A refusal with its status; ``field`` is the request field it is about (None: the request)."""

    def __init__(self, status: int, field: str | None, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.status = status
        self.field = field
        self.message = message
        self.headers = headers


def bad_field(field: str, message: str) -> ApiError:
    return ApiError(422, field, message)


def _body(error: str, detail: str) -> dict[str, Any]:
    return {"error": error, "detail": detail, "body": "", "errors": detail}


def _location(parts: tuple[Any, ...]) -> str:
    """pydantic's ("body", "alwayson_scripts", 0) as the field path a client wrote."""
    text = ""
    for part in parts[1:] if parts and parts[0] == "body" else parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(_body(type(error).__name__, str(error)), status_code=error.status, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {"loc": (), "msg": "is not valid"}
        detail = f"{_location(tuple(first.get('loc', ())))}: {first.get('msg', 'is not valid')}"
        return JSONResponse(_body("RequestValidationError", detail), status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse(_body("HTTPException", str(error.detail)), status_code=error.status_code,
                            headers=getattr(error, "headers", None))  # fmt: skip

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        if isinstance(error, OutOfMemoryError):
            return JSONResponse(_body("OutOfMemoryError", str(error)), status_code=507)
        if isinstance(error, (MissingModelError, ModelLoadError, CheckpointError)):
            return JSONResponse(_body(type(error).__name__, str(error)), status_code=503)
        if isinstance(error, GenerationCancelled):
            return JSONResponse(_body("Interrupted", "the job was interrupted"), status_code=409)
        log.exception("API error: %s %s", request.method, request.url.path)
        return JSONResponse(_body("InternalServerError", INTERNAL), status_code=500)
