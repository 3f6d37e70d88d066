"""The base models the API names: those the server offers, each request on its own.

A1111 names a checkpoint ``name [short hash]``, the first 10 hex digits of the file's SHA-256, and lists
the whole digest as ``sha256``; here single files are named so, and a diffusers folder, which has no one
file to hash, by its name alone (``hash`` and ``sha256`` null). Clients send that
title, the bare name, or the file name. ``override_settings.sd_model_checkpoint`` picks the model of
that request only (the engine's ``base_models`` serve each request on its own model); an authenticated
caller's ``POST /sdapi/v1/options`` changes the server's default, what requests that name none get.
"""

from __future__ import annotations

from typing import Any

from ..ui.base_model import base_model_names
from .errors import bad_field


def model_identity(engine: Any, name: str = "") -> tuple[str, str | None]:
    """The name and A1111 short hash (None for a diffusers folder) of base model ``name`` ("": the default)."""
    if getattr(engine, "base_models", None) is None:  # an engine without a choice, such as a test's fake
        return name or "unknown", None
    choice = engine.base_models.choice(name)
    return choice.name, choice.hash


def _sha256(engine: Any, name: str) -> str | None:
    """The whole SHA-256 of a single-file base model (read once per file, with its short hash); None for a folder."""
    if getattr(engine, "base_models", None) is None:
        return None
    return engine.base_models.choice(name).sha256


def title(name: str, short_hash: str | None) -> str:
    return f"{name} [{short_hash}]" if short_hash else name


def stem(value: object) -> str:
    """``"dreamshaper_8.safetensors [879db523]"`` -> ``"dreamshaper_8"``."""
    return str(value).split(" [")[0].strip().removesuffix(".safetensors")


def sd_models(engine: Any) -> list[dict[str, Any]]:
    """Every base model of the server, the default first."""
    listed = []
    for name in base_model_names(engine) or ("",):
        name, short_hash = model_identity(engine, name)
        listed.append({"title": title(name, short_hash), "model_name": name, "hash": short_hash,
                       "sha256": _sha256(engine, name), "filename": name, "config": None})  # fmt: skip
    return listed


def requested_model(engine: Any, value: object, field: str) -> str:
    """The name of the server's base model that ``value`` names (by title, name or file name)."""
    wanted = stem(value)
    if wanted not in (base_model_names(engine) or (model_identity(engine)[0],)):
        raise bad_field(field, f"{str(value)[:80]!r} is not one of this server's base models; see GET /sdapi/v1/sd-models")
    return wanted


def make_default(engine: Any, value: object, field: str) -> None:
    """Make ``value`` the server's default base model (for requests that name none)."""
    name = requested_model(engine, value, field)
    if getattr(engine, "base_models", None) is not None:  # else the engine has one model, already the default
        engine.base_models.make_default(name)
