"""The base models the API names: the one the server runs, and the others it may switch to.

A1111 names a checkpoint ``name [short hash]`` (the hash only for single files); clients send that
title, the bare name, or the file name. A request cannot pick its own base model yet (another
request's model would change under it): ``override_settings.sd_model_checkpoint`` must name the
server's, and only an authenticated caller's ``POST /sdapi/v1/options`` switches it for everyone,
as the page's base model picker does.
"""

from __future__ import annotations

from typing import Any

from ..models.used import option_name
from .errors import bad_field


def model_identity(engine: Any) -> tuple[str, str | None]:
    """The base model's name and A1111 short hash (None for a diffusers folder)."""
    base = getattr(engine, "base_model", None)
    return (getattr(base, "name", "unknown"), getattr(base, "hash", None))


def title(name: str, short_hash: str | None) -> str:
    return f"{name} [{short_hash}]" if short_hash else name


def stem(value: object) -> str:
    """``"dreamshaper_8.safetensors [879db523]"`` -> ``"dreamshaper_8"``."""
    return str(value).split(" [")[0].strip().removesuffix(".safetensors")


def sd_models(engine: Any) -> list[dict[str, Any]]:
    name, short_hash = model_identity(engine)
    others = [option_name(option) for option in getattr(engine, "base_model_options", ()) if option]
    names = [name, *(other for other in dict.fromkeys(others) if other != name)]
    return [{"title": title(item, short_hash if item == name else None), "model_name": item,
             "hash": short_hash if item == name else None, "sha256": None, "filename": item, "config": None}
            for item in names]  # fmt: skip


def check_current(engine: Any, value: object, field: str) -> None:
    name, _ = model_identity(engine)
    if value is not None and stem(value) != name:
        raise bad_field(field, f"{value!r}: this server runs {name} for every request; a per-request base model is "
                        "not offered yet (an authenticated POST /sdapi/v1/options switches the server's)")  # fmt: skip


def switch(engine: Any, value: object, field: str) -> None:
    """Switch the server's base model to a configured option named ``value`` (no-op for the current one)."""
    wanted = stem(value)
    if wanted == model_identity(engine)[0]:
        return
    for option in getattr(engine, "base_model_options", ()):
        if option and option_name(option) == wanted and hasattr(engine, "switch_base_model"):
            vae = engine.vae.requested if getattr(engine, "vae", None) is not None else None
            with engine.gpu_gate.held():  # not beside a generation
                engine.switch_base_model(option, vae)
            return
    raise bad_field(field, f"{str(value)[:80]!r} is not one of this server's base models; see GET /sdapi/v1/sd-models")
