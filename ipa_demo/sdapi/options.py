"""How the API is served: on or off (``--no-sdapi`` / ``IPA_NO_SDAPI``), who may call it
(``--api-auth user:pass[,user2:pass2]`` / ``IPA_API_AUTH``, HTTP Basic as A1111's flag) and the
largest request body its routes take (``IPA_MAX_API_BODY_MB``, default 50: images travel as base64
inside the JSON). No web-framework import here: ``app.py`` parses these before anything heavy loads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..settings import SettingsError
from ..settings.megabytes import MEGABYTE, megabytes

AUTH_ENV = "IPA_API_AUTH"
OFF_ENV = "IPA_NO_SDAPI"
BODY_ENV = "IPA_MAX_API_BODY_MB"
DEFAULT_BODY_MB = 50.0


def parse_credentials(text: str | None, name: str = "--api-auth") -> Mapping[str, str]:
    """``user:pass,user2:pass2`` -> {user: pass}; a password may hold ':' (split at the first)."""
    credentials: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        user, colon, password = item.strip().partition(":")
        if not colon or not user or not password:
            raise SettingsError(name, "takes user:password pairs separated by commas")
        credentials[user] = password
    return MappingProxyType(credentials)


def api_body_bytes(raw: str | None = None) -> int:
    return megabytes(BODY_ENV, DEFAULT_BODY_MB, raw)


@dataclass(frozen=True)
class ApiOptions:
    enabled: bool = True
    credentials: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    max_body_bytes: int = int(DEFAULT_BODY_MB * MEGABYTE)

    @classmethod
    def from_env(cls, auth: str | None = None, disabled: bool | None = None) -> ApiOptions:
        """From the flags where given, else the environment."""
        off = disabled if disabled is not None else os.environ.get(OFF_ENV, "").lower() in ("1", "true", "yes")
        return cls(not off, parse_credentials(auth if auth is not None else os.environ.get(AUTH_ENV), "--api-auth"),
                   api_body_bytes())  # fmt: skip
