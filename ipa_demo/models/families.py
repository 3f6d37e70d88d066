"""Which catalog files a base model family runs with: SD 1.5's (``catalog.py``) or SDXL's (``catalog_sdxl.py``).

The engine asks the loaded UNet's architecture for its family and takes adapters, image encoders,
ControlNets and T2I-Adapters from that family's tables; an SD 1.5 ControlNet cannot steer an SDXL UNet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import SettingsError
from .catalog import CONTROLNETS, IMAGE_ENCODER, IP_ADAPTERS, T2I_ADAPTERS, ModelSpec
from .catalog_sdxl import SDXL_CONTROLNETS, SDXL_IP_ADAPTERS, SDXL_IP_ENCODERS, SDXL_T2I_ADAPTERS


SD15_FAMILY = "sd15"


@dataclass(frozen=True)
class FamilyCatalog:
    family: str  # "sd15" or "sdxl", as ``Architecture.family``
    title: str
    ip_adapters: Mapping[str, ModelSpec]
    ip_encoders: Mapping[str, ModelSpec]  # the image encoder each adapter variant was trained with
    controlnets: Mapping[str, ModelSpec]
    t2i_adapters: Mapping[str, ModelSpec]

    def spec(self, table: str, label: str, kind: str) -> ModelSpec:
        """The family's model of ``kind`` in ``table`` ("ip_adapters", ...), or a refusal naming the control."""
        specs: Mapping[str, ModelSpec] = getattr(self, table)
        if kind not in specs:
            raise SettingsError(label, f"{kind!r} has no {self.title} model; choose one of {', '.join(specs)}")
        return specs[kind]

    def ip_png_name(self, variant: str, used: bool) -> dict[str, str]:
        """The PNG's ``IP-Adapter`` (A1111 names the checkpoint that ran) where it is not SD 1.5's file."""
        if self.family == SD15_FAMILY or not used or variant not in self.ip_adapters:
            return {}
        return {"IP-Adapter": self.ip_adapters[variant].key}

    def key(self, what: str) -> str:
        """A loaded model's name in ``Engine.loaded``: SD 1.5's as before, the others' with their family."""
        return what if self.family == SD15_FAMILY else f"{self.family}:{what}"


SD15_CATALOG = FamilyCatalog(
    "sd15", "SD 1.5", IP_ADAPTERS, {variant: IMAGE_ENCODER for variant in IP_ADAPTERS}, CONTROLNETS, T2I_ADAPTERS
)
SDXL_CATALOG = FamilyCatalog(
    "sdxl", "SDXL", SDXL_IP_ADAPTERS, SDXL_IP_ENCODERS, SDXL_CONTROLNETS, SDXL_T2I_ADAPTERS
)
CATALOGS = {catalog.family: catalog for catalog in (SD15_CATALOG, SDXL_CATALOG)}


def catalog_for(family: str) -> FamilyCatalog:
    return CATALOGS[family]
