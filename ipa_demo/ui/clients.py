"""Who sent a request, for limits per client: the peer address, or the address a trusted proxy forwarded.

A proxy appends the address it received a request from to ``X-Forwarded-For``; whatever stands left of
that came from the client and proves nothing. So the header is believed only when the peer is a proxy
listed in ``IPA_TRUSTED_PROXIES`` (addresses or networks, comma-separated), and then read from the
right: the first address that is not a trusted proxy is the client. On a Hugging Face Space (``SPACE_ID``
set) every request comes through the Space's proxy, which puts the client's address first.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Any

from ..settings import SettingsError

TRUSTED_PROXIES = "IPA_TRUSTED_PROXIES"
MAX_QUEUED = "IPA_MAX_QUEUED_PER_CLIENT"
DEFAULT_MAX_QUEUED = 2
FORWARDED_FOR = "x-forwarded-for"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(text: str) -> tuple[Network, ...]:
    networks = []
    for item in (part.strip() for part in text.split(",")):
        if item:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise SettingsError(TRUSTED_PROXIES, f"{item!r} is not an address or network") from None
    return tuple(networks)


def max_queued_per_client(value: int | None = None) -> int:
    """The cap: ``value``, else ``IPA_MAX_QUEUED_PER_CLIENT``, else 2; at least 1."""
    if value is None:
        raw = os.environ.get(MAX_QUEUED, str(DEFAULT_MAX_QUEUED))
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(MAX_QUEUED, f"must be a whole number, got {raw!r}") from None
    if value < 1:
        raise SettingsError(MAX_QUEUED, f"must be at least 1, got {value}")
    return value


@dataclass(frozen=True)
class ClientPolicy:
    """``trusted``: the proxies whose ``X-Forwarded-For`` is believed; ``on_space``: behind a Space's proxy."""

    trusted: tuple[Network, ...] = ()
    on_space: bool = False

    @classmethod
    def from_env(cls) -> ClientPolicy:
        return cls(_networks(os.environ.get(TRUSTED_PROXIES, "")), bool(os.environ.get("SPACE_ID")))

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def client(self, peer: str | None, forwarded_for: str | None) -> str:
        """The client's address, from the peer's and the ``X-Forwarded-For`` header it sent."""
        peer = peer or "unknown"
        hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
        if self.on_space:
            return hops[0] if hops else peer
        if not hops or not self._is_trusted(peer):
            return peer
        return next((hop for hop in reversed(hops) if not self._is_trusted(hop)), hops[0])

    def client_of(self, request: Any) -> str:
        """The client of a Starlette request (or of anything with ``client`` and ``headers``)."""
        peer = request.client.host if getattr(request, "client", None) else None
        return self.client(peer, request.headers.get(FORWARDED_FOR))
