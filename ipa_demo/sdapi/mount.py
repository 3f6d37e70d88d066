"""How the Gradio server hands ``/sdapi/...`` and ``/controlnet/...`` to the API app.

``create_app`` attaches the API app to its Blocks; the server's lifespan (``server_guard``) puts
``ApiRoutes`` behind the request guard, so the API's requests pass the same Host and origin checks
but skip Gradio's stack: they get the API's own body limit (``IPA_MAX_API_BODY_MB``, sized for
base64 images) instead of the 1 MiB that every other body gets.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from ..ui.body_limit import BodyLimit

PREFIXES = ("/sdapi/", "/controlnet/")
_attached: WeakKeyDictionary[Any, tuple[Any, int]] = WeakKeyDictionary()


def attach(blocks: Any, api: Any, max_body_bytes: int) -> None:
    _attached[blocks] = (api, max_body_bytes)


class ApiRoutes:
    """ASGI: the API's paths to ``api`` (under its body limit), every other path to ``rest``."""

    def __init__(self, api: Any, max_body_bytes: int, rest: Any) -> None:
        self.api = BodyLimit(api, max_body_bytes)
        self.rest = rest

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIXES):
            await self.api(scope, receive, send)
        else:
            await self.rest(scope, receive, send)


def with_api(blocks: Any, rest: Any) -> Any:
    """``rest`` with the API that ``blocks`` carries in front of it (``rest`` alone if it carries none)."""
    attached = _attached.get(blocks)
    return rest if attached is None else ApiRoutes(attached[0], attached[1], rest)
