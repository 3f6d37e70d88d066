"""What the server lets in before Gradio sees a request: the Host it answers to, the origins it shares
responses with, and a queue that keeps its size under a burst.

- Host: a server bound to a loopback address answers only to ``localhost``, ``127.0.0.1`` and
  ``[::1]`` (and the names in ``IPA_ALLOWED_HOSTS``), so a web page cannot reach it through DNS
  rebinding. One bound to the network (a Space, Docker) checks the Host only when
  ``IPA_ALLOWED_HOSTS`` is set; ``*`` switches the check off, e.g. behind a reverse proxy.
- Cross-origin: Gradio grants credentialed CORS to any origin when its Host is not a localhost
  name, and to any localhost origin when it is. Here a response carries CORS headers only for its
  own origin or one listed in ``IPA_ALLOWED_ORIGINS``.
- Queue: Gradio checks the queue's size before it awaits the event's validator and adds the event
  after it, so simultaneous requests all pass the check. Requests being validated count here. And one
  client (``clients``: its address, or the one a trusted proxy forwarded) may hold only a few places.

The guard wraps Gradio's whole middleware stack at start-up, before the server accepts a request
(``lifespan``), so it sees every request first, including those Gradio's own middleware answers.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import gradio as gr
from gradio import route_utils
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse

from ..sdapi.mount import with_api
from .body_limit import BodyLimit
from .clients import ClientPolicy, max_queued_per_client
from .stop_requests import StopOnCancel

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
ANY = "*"
BUSY = "Queue is full. Max size is {size} and size is {waiting}: the server is busy, try again in a minute."
PER_CLIENT = (
    "You already have {held} generations queued or running on this server, the most one client may have "
    "(IPA_MAX_QUEUED_PER_CLIENT is {cap}): wait for one to finish, or stop it."
)
# What a page has in flight beside its generations: a click's check, a PNG being read, a seed reused.
HELPERS_PER_CLIENT = 4
PER_CLIENT_HELPERS = (
    "You already have {held} of the page's quick requests waiting on this server, the most one client may have "
    "({helpers}): wait a moment and try again."
)
CORS_HEADERS = ("access-control-allow-origin", "access-control-allow-credentials")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


def _names(variable: str) -> tuple[str, ...]:
    return tuple(item.strip().lower() for item in os.environ.get(variable, "").split(",") if item.strip())


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class GuardPolicy:
    """``hosts``: the Host names answered (None: any); ``origins``: foreign origins shared with."""

    hosts: tuple[str, ...] | None
    origins: tuple[str, ...]

    @classmethod
    def for_server(cls, bind_host: str) -> GuardPolicy:
        listed = _names("IPA_ALLOWED_HOSTS")
        if ANY in listed or (not listed and not _is_loopback(bind_host)):
            hosts = None
        else:
            hosts = (*LOCAL_HOSTS, *listed)
        return cls(hosts, _names("IPA_ALLOWED_ORIGINS"))


# A Host header is a name or IPv4 address, or an IPv6 address in brackets, then an optional port; no user
# part, path or anything else a URL parser would read past (``evil.com@localhost``). Linear: no nesting.
_HOST = re.compile(r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9.-]+))(?::[0-9]{1,5})?")


def _hostname(host_header: str) -> str | None:
    """``example.com:7860`` -> ``example.com``; ``[::1]:7860`` -> ``::1``; None for anything else."""
    match = _HOST.fullmatch(host_header)
    if match is None:
        return None
    return (match["ipv6"] or match["name"]).lower()


class RequestGuard:
    """ASGI middleware: refuse foreign Host headers, keep CORS to the page's own origin."""

    def __init__(self, app: ASGIApp, policy: GuardPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if self.policy.hosts is not None and _hostname(host) not in self.policy.hosts:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            message = f"Host {host!r} is not served here; set IPA_ALLOWED_HOSTS to serve it."
            await PlainTextResponse(message, status_code=400)(scope, receive, send)
            return
        origin = headers.get("origin")
        if origin is None or self._may_share_with(origin, host):
            await self.app(scope, receive, send)
            return

        async def send_without_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name in CORS_HEADERS:
                    del response_headers[name]
            await send(message)

        await self.app(scope, receive, send_without_cors)

    def _may_share_with(self, origin: str, host: str) -> bool:
        return urlsplit(origin).netloc.lower() == host.lower() or origin.lower().rstrip("/") in self.policy.origins


def guarded_lifespan(policy: GuardPolicy) -> Callable[[Any], Any]:
    """A FastAPI ``lifespan`` that puts ``RequestGuard``, ``BodyLimit`` and ``StopOnCancel``, in that order,
    in front of the app's built middleware stack; the A1111 API's paths go from the guard to the API
    (``sdapi.mount``), under its own body limit."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        def owner_of(event_id: str) -> str | None:
            event = app.get_blocks()._queue.event_ids_to_events.get(event_id)
            return None if event is None else event.session_hash

        stack = StopOnCancel(app.middleware_stack or app.build_middleware_stack(), owner_of=owner_of)
        app.middleware_stack = RequestGuard(with_api(app.get_blocks(), BodyLimit(stack)), policy)
        yield

    return lifespan


def hold_queue_size(
    demo: gr.Blocks, per_client: int | None = None, clients: ClientPolicy | None = None, gpu_group: str = "gpu"
) -> None:
    """Count the requests being validated as waiting, so that a burst cannot overfill the queue, and let
    one client (``clients``) have at most ``per_client`` generations (events of ``gpu_group``) queued, being
    validated or running, and at most ``HELPERS_PER_CLIENT`` of the page's quick queued events besides."""
    queue = demo._queue
    push = queue.push
    cap = max_queued_per_client(per_client)
    policy = clients or ClientPolicy.from_env()
    validating: Counter[tuple[str, bool]] = Counter()

    def queued_or_running() -> list[Any]:
        # Not ``event_ids_to_events``: Gradio drops an event from it only after its run's clean-up (iterators,
        # a pandas summary of the analytics), which on a loaded server lags the answer the client already has,
        # so a page sending its quick requests one after another was refused for requests long answered.
        waiting = [event for line in queue.event_queue_per_concurrency_id.values() for event in line.queue]
        return waiting + [event for jobs in queue.active_jobs if jobs for event in jobs]

    def held_by(client: str, generating: bool) -> int:
        mine = sum(
            policy.client_of(event.request) == client and (event.fn.concurrency_id == gpu_group) == generating
            for event in queued_or_running()
        )
        return validating[client, generating] + mine

    async def bounded_push(body: Any, request: Any, username: Any) -> Any:
        waiting = len(queue) + validating.total()
        if queue.max_size is not None and waiting >= queue.max_size:
            return False, BUSY.format(size=queue.max_size, waiting=waiting), "queue_full"
        client = policy.client_of(request)
        generating = body.fn_index is not None and route_utils.get_fn(demo, None, body).concurrency_id == gpu_group
        if (held := held_by(client, generating)) >= (cap if generating else HELPERS_PER_CLIENT):
            message = PER_CLIENT if generating else PER_CLIENT_HELPERS
            return False, message.format(held=held, cap=cap, helpers=HELPERS_PER_CLIENT), "queue_full"
        validating[client, generating] += 1
        try:
            return await push(body=body, request=request, username=username)
        finally:
            validating[client, generating] -= 1
            if not validating[client, generating]:
                del validating[client, generating]

    queue.push = bounded_push  # type: ignore[method-assign]
