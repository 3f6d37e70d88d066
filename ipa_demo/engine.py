"""The engine: loads the models once, keeps them and the reference encodings, and serves requests.

Everything a request asks for arrives in its ``GenerationSettings``; the engine holds only models
and caches, so concurrent requests cannot leak settings into each other; each request runs on the
base model it names (``base_models``). Models other than the first base model load on first use, or
all at once with ``preload()`` (what a ZeroGPU Space does at start-up).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np
import torch
from diffusers import ControlNetModel, T2IAdapter
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
from PIL import Image

from .base_models import DEFAULT_KEEP, BaseModels
from .cache import LRUCache, image_digest
from .conditioner import BatchLayout, Conditioner, LatentStart
from .errors import MissingModelError
from .inpainting import Inpainting, LatentFill, check_inpainting
from .ip_adapter.conditioner import ImagePrompt
from .ip_adapter.image_encoder import ImageEncoder
from .ip_adapter.injection import InjectionRecorder
from .ip_adapter.inputs import NO_MORE, MoreReferences, UnitRequest, check_more_references, png_pairs, unit_requests
from .ip_adapter.units import OutputSize, prepare_unit
from .ip_adapter.checkpoint_kind import EncoderOutput, check_image_encoder, fit_user_checkpoint
from .ip_adapter.user_checkpoint import read_user_checkpoint
from .ip_adapter.model_layers import in_model_terms
from .ip_adapter.weights import IPAdapterWeights, load_ip_adapter
from .loop import (
    Conditioning,
    StepCallback,
    decode,
    denoise,
    encode_text,
    encode_to_posterior,
    steps_to_run,
    uses_guidance,
)
from .models.base_model import ModelChoice, load_base_model, resolve_vae
from .models.catalog import DEFAULT_DEPTH_MODEL, DEPTH_ESTIMATORS, IMAGE_ENCODER, POSE_ESTIMATOR
from .models.families import FamilyCatalog, catalog_for
from .models.loading import (
    StableDiffusionModels,
    load_controlnet,
    load_depth_estimator,
    load_image_encoder,
    load_pose_estimator,
    load_t2i_adapter,
)
from .models.lora import LoraLibrary, read_tags
from .models.sources import ModelSources
from .reference_only.guidance import ReferenceGuidance
from .runtime import (
    ModelOffload,
    apply_speed_settings,
    describe_device,
    enable_model_offload,
    out_of_memory_as_user_error,
    prefers_channels_last,
)
from .settings import ControlNetSettings, GenerationSettings, SettingsError, check_inputs
from .settings.parameters import format_parameters
from .settings.units import NO_UNIT_IMAGES, UnitImages, check_unit_images, maps_as_given
from .shared_use import SharedUse
from .starts import FROM_NOISE, FromImage
from .structure.control_maps import ControlMapMaker, Estimator, MapRequest, fit_to_size
from .structure.controlnet import ControlNetGuidance
from .structure.t2i_adapter import T2IGuidance
from .structure.units import structure_units
from .unet_setup import prepare_unet

Loaded = TypeVar("Loaded")
Module = TypeVar("Module", bound=torch.nn.Module)


@dataclass(frozen=True)
class GenerationResult:
    images: list[Image.Image]
    pixels: np.ndarray  # float (n, h, w, 3) in [0, 1], before 8-bit rounding
    seeds: tuple[int, ...]
    parameters: list[str]  # A1111 text per image
    warnings: tuple[str, ...]
    control_maps: dict[str, Image.Image] = field(default_factory=dict)  # kind ("canny", ...) -> map used
    injection_maps: list[np.ndarray] | None = None  # per layer (images, h, w), when asked for


class Engine:
    def __init__(
        self,
        sources: ModelSources,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        *,
        compile_unet: bool = False,
        channels_last: bool | None = None,  # None: where it helps (CUDA)
        offload: bool = False,
        depth_model: str = DEFAULT_DEPTH_MODEL,
        base_model: str | None = None,  # Hub id, diffusers folder or SD1.5 .safetensors; None: the catalog's
        vae: str | None = None,  # the same kinds; None: the base model's own
        ip_checkpoint: str | None = None,  # an IP-Adapter file replacing the catalog's of its variant
        loras: Sequence[str] = (),  # LoRA files a prompt may name with <lora:file stem:scale>
        base_model_options: Sequence[str] = (),  # other base models a request may name (``base_models``)
        keep_base_models: int = DEFAULT_KEEP,  # how many stay loaded at once
    ) -> None:
        if depth_model not in DEPTH_ESTIMATORS:
            raise SettingsError("depth_model", f"{depth_model!r} is not one of {', '.join(DEPTH_ESTIMATORS)}")
        self.depth_model = depth_model
        self.sources = sources
        self.device = torch.device(device)
        self.dtype = dtype
        if channels_last is None:
            channels_last = prefers_channels_last(self.device)
        self._compile_unet, self._channels_last = compile_unet, channels_last
        self.loras = LoraLibrary(loras)
        self.vae = resolve_vae(vae, sources)
        options = [base_model or "", *base_model_options]
        self.base_models = BaseModels(options, sources, self._load_base, keep_base_models)
        self.offload: ModelOffload | None = self.base_models.enable_offload(enable_model_offload) if offload else None
        self._use = SharedUse()
        self.ip_checkpoint = read_user_checkpoint(ip_checkpoint) if ip_checkpoint else None
        extras = ["compiled UNet"] * compile_unet + ["CPU offload"] * offload
        self.description = ", ".join([describe_device(self.device, dtype), *extras])
        self._load_lock = threading.Lock()
        self._loaded: dict[str, Any] = {}
        self.loads = 0  # models loaded after start-up; a preloaded engine keeps this still
        self.control_maps = ControlMapMaker({"depth": self._depth_estimator, "openpose": self._pose_estimator})
        self.posteriors: LRUCache[DiagonalGaussianDistribution] = LRUCache(8)
        if self.ip_checkpoint is not None:
            self.ip_checkpoint = fit_user_checkpoint(self.ip_checkpoint, self.models.architecture, sources)
            self.ip_adapter(self.ip_checkpoint.variant)  # a file that does not fit this UNet fails now

    def _load_base(self, base: ModelChoice) -> StableDiffusionModels:
        models = load_base_model(base, self.vae, self.sources, self.device, self.dtype)
        prepare_unet(models.unet)
        apply_speed_settings(models, compile_unet=self._compile_unet, channels_last=self._channels_last)
        self.loras.load_into(models)
        return models

    @property
    def models(self) -> StableDiffusionModels:
        """The base model of the request being served (``base_models``); outside a request, the default."""
        return self.base_models.current.models

    @property
    def base_model(self) -> ModelChoice:
        return self.base_models.current.choice

    @property
    def catalog(self) -> FamilyCatalog:
        """The adapters, encoders and structure models of the serving base model's family."""
        return catalog_for(self.models.architecture.family)

    def _once(self, key: str, load: Callable[[], Loaded]) -> Loaded:
        with self._load_lock:
            if key not in self._loaded:
                self._loaded[key] = load()
                self.loads += 1
            return self._loaded[key]

    @property
    def loaded(self) -> tuple[str, ...]:
        """The models loaded so far besides SD1.5, in load order (``ip:plus``, ``controlnet:canny``, ...)."""
        return tuple(self._loaded)

    def preload(self) -> None:
        """Load every model a request can ask for, now rather than on first use.

        ZeroGPU asks for this at start-up: there ``.to("cuda")`` outside a GPU task keeps the weights
        in CPU memory and ZeroGPU moves them to the GPU it lends each task, whereas a model loaded
        inside a task spends the task's GPU time on loading (and what a task builds may not outlive it).
        """
        self.base_models.preload()
        for name in self.base_models.one_per_family():  # SDXL's adapters and ControlNets too, if served
            with self.base_models.serving(name):
                catalog = self.catalog
                for variant in catalog.ip_adapters:
                    self.ip_adapter(variant)
                    self.image_encoder_for(variant)
                structure = (("controlnets", "controlnet", load_controlnet), ("t2i_adapters", "t2i", load_t2i_adapter))
                for table, label, load in structure:
                    for kind in getattr(catalog, table):
                        self._structure_model(table, label, kind, load)
        self._depth_estimator()
        try:  # poses from photos are optional: without the weights, a pose request says what to download
            self._pose_estimator()
        except MissingModelError:
            pass

    def _staged(self, module: Module, stage: str) -> Module:
        """Under CPU offload a model loaded later joins its stage (see ``runtime.ModelOffload``)."""
        if self.offload is not None:
            self.offload.add(module, stage)
        return module

    image_encoder = property(lambda self: self.image_encoder_for("base"))

    def image_encoder_for(self, variant: str) -> ImageEncoder:
        """The image encoder the family's ``variant`` adapter was trained with (SDXL base: ViT-bigG)."""
        spec = self.catalog.spec("ip_encoders", "ip_variant", variant)

        def load() -> ImageEncoder:
            encoder = load_image_encoder(self.sources.resolve(spec), self.device, self.dtype)
            return ImageEncoder(self._staged(encoder, "image"), self.device)

        encoder = self._once("image_encoder" if spec is IMAGE_ENCODER else f"image_encoder:{spec.key}", load)
        user = self.ip_checkpoint
        if user is not None and user.variant == variant and user.need is not None:
            check_image_encoder(user.need, EncoderOutput.of(encoder.encoder.config), user.path.name, spec.repo_name)
        return encoder

    def ip_adapter(self, variant: str) -> IPAdapterWeights:
        spec, user, family = self.catalog.spec("ip_adapters", "ip_variant", variant), self.ip_checkpoint, self.catalog.family
        path = user.path if user is not None and (user.family, user.variant) == (family, variant) else None
        return self._once(
            self.catalog.key(f"ip:{variant}"),
            lambda: self._staged(load_ip_adapter(path or self.sources.resolve(spec), self.models.unet), "unet"),
        )

    def controlnet(self, kind: str) -> ControlNetModel:
        return self._structure_model("controlnets", "controlnet", kind, load_controlnet)

    def t2i_adapter(self, kind: str) -> T2IAdapter:
        return self._structure_model("t2i_adapters", "t2i", kind, load_t2i_adapter)

    def _structure_model(self, table: str, label: str, kind: str, load: Callable[..., Module]) -> Module:
        spec = self.catalog.spec(table, label, kind)
        return self._once(self.catalog.key(f"{label}:{kind}"),
                          lambda: self._staged(load(self.sources.resolve(spec), self.device, self.dtype), "unet"))  # fmt: skip

    def _pose_estimator(self) -> Estimator:
        return self._once("pose", lambda: load_pose_estimator(self.sources.resolve(POSE_ESTIMATOR), self.device))

    def _depth_estimator(self) -> Estimator:
        spec = DEPTH_ESTIMATORS[self.depth_model]
        load = lambda: load_depth_estimator(self.sources.resolve(spec), self.device)  # noqa: E731
        return self._once(f"depth:{self.depth_model}", load)

    def control_map(
        self, control_image: Image.Image, kind: str, settings: GenerationSettings, is_map: bool | None = None
    ) -> Image.Image:
        """The map a conditioner of ``kind`` gets: made from the image, or the image itself if it is one
        (``is_map``; None: as the request's control image, ``control_is_map``)."""
        if settings.control_is_map if is_map is None else is_map:
            return fit_to_size(control_image, settings.width, settings.height)
        request = MapRequest(kind, settings.width, settings.height, settings.canny_low, settings.canny_high)
        return self.control_maps.make(control_image, request)

    def image_prompts(
        self, settings: GenerationSettings, units: Sequence[UnitRequest], recorder: InjectionRecorder | None = None
    ) -> list[ImagePrompt | None]:
        """One conditioner per adapter unit that acts (None for one that does not), in the units' order."""
        layout, output = self._layout(settings), self._output(settings)
        return [
            prepare_unit(self.ip_adapter(unit.settings.variant), self.image_encoder_for(unit.settings.variant), unit,
                         output, layout, recorder)
            if unit.settings.is_active else None
            for unit in units
        ]  # fmt: skip

    def _layout(self, settings: GenerationSettings) -> BatchLayout:
        return BatchLayout(settings.num_images, uses_guidance(settings), self.device)

    def _output(self, settings: GenerationSettings) -> OutputSize:
        return OutputSize(settings.height, settings.width, self.models.architecture, self.device)

    def posterior(self, image: Image.Image, settings: GenerationSettings) -> DiagonalGaussianDistribution:
        """The VAE encoding of an image fitted to the generation size, shared by img2img and reference-only."""
        size = (settings.width, settings.height)
        key = (self.base_model.name, image_digest(image), size)  # each model's VAE encodes its own
        return self.posteriors.get_or_make(key, lambda: encode_to_posterior(self.models, fit_to_size(image, *size)))

    def reference_guidance(
        self, settings: GenerationSettings, references: Sequence[Image.Image]
    ) -> ReferenceGuidance | None:
        if not settings.reference_only.is_active:
            return None
        posterior = self.posterior(references[0], settings)
        family = self.models.architecture.family
        return ReferenceGuidance.prepare(self.models.unet, posterior, settings.reference_only, family)

    def structure(
        self, settings: GenerationSettings, control_image: Image.Image | None, images: UnitImages = NO_UNIT_IMAGES
    ) -> tuple[list[Conditioner], dict[str, Image.Image]]:
        """One conditioner per acting ControlNet and T2I-Adapter unit, and the maps they were given (by name)."""
        layout = self._layout(settings)
        maps: dict[str, Image.Image] = {}
        guidance: list[Conditioner] = []
        for unit in structure_units(settings, control_image, images):
            kind = unit.settings.kind
            maps[unit.map_name] = control_map = self.control_map(unit.image, kind, settings, unit.is_map)
            if isinstance(unit.settings, ControlNetSettings):
                guidance.append(ControlNetGuidance.prepare(
                    self.controlnet(kind), control_map, unit.settings, layout,
                    guess_mode=settings.guess_mode, region=unit.region,
                ))  # fmt: skip
            else:
                guidance.append(T2IGuidance.prepare(self.t2i_adapter(kind), control_map, unit.settings, layout))
        return guidance, maps

    def generate(
        self,
        settings: GenerationSettings,
        references: Sequence[Image.Image] = (),
        init_image: Image.Image | None = None,
        control_image: Image.Image | None = None,
        on_step: StepCallback | None = None,
        mask_image: Image.Image | None = None,  # with init_image: inpaint where white
        more: MoreReferences = NO_MORE,
        *,
        units: UnitImages = NO_UNIT_IMAGES,  # the images of settings.more_*_units, one entry per unit
        injection_maps: bool = False,
        latent_fill: LatentFill = "original",  # with a mask: what its latents start from (``inpainting.py``)
    ) -> GenerationResult:
        check_inputs(settings, references, init_image, control_image)
        check_unit_images(settings, units)
        check_more_references(settings, references, more)
        with self.serving(settings):
            check_inpainting(self.models, settings, init_image is not None, mask_image is not None)
            return self._generate(settings, references, init_image, control_image, on_step, mask_image, more, units,
                                  injection_maps, latent_fill)  # fmt: skip

    @contextmanager
    def serving(self, settings: GenerationSettings) -> Iterator[None]:
        """Hold the models for one request: its base model, shared, or alone with its LoRAs applied (peft
        keeps the LoRA state on the shared models)."""
        _, loras = read_tags(settings.prompt)
        self.loras.check(loras)
        with (
            self.base_models.serving(settings.base_model),
            self._use.alone() if loras else self._use.shared(),
            self.loras.applied(self.models, loras),
        ):
            yield

    def _generate(
        self, settings: GenerationSettings, references: Sequence[Image.Image], init_image: Image.Image | None,
        control_image: Image.Image | None, on_step: StepCallback | None, mask_image: Image.Image | None,
        more: MoreReferences, unit_images: UnitImages, injection_maps: bool, latent_fill: LatentFill = "original",
    ) -> GenerationResult:  # fmt: skip
        text = encode_text(self.models, self.loras.text_settings(settings))
        latent_size = (settings.height // self.models.vae_scale_factor, settings.width // self.models.vae_scale_factor)
        recorder = (
            InjectionRecorder.for_batch(latent_size, settings.num_images, uses_guidance(settings), self.models.architecture)
            if injection_maps else None
        )  # fmt: skip
        units = unit_requests(settings, references, more, unit_images)
        prompts = self.image_prompts(settings, units, recorder)
        structure, maps = self.structure(settings, control_image, unit_images)
        reference = self.reference_guidance(settings, references)
        # Order matters: reference-only's extra row must see the others' tokens and residuals.
        conditioners = tuple(item for item in (*prompts, *structure, reference) if item is not None)
        conditioning = Conditioning(text, conditioners, self._start(settings, init_image, mask_image, latent_fill))
        with out_of_memory_as_user_error(self.device):
            latents = denoise(self.models, settings, conditioning, on_step)
            pixels = decode(self.models, latents)
        images = self.models.image_processor.numpy_to_pil(pixels)
        used = [prompt is not None for prompt in prompts]
        img2img = init_image is not None
        as_run = maps_as_given(settings, unit_images)  # the PNG says which further units got a ready map
        parameters = [self.parameters_text(as_run, seed, units, used, img2img) for seed in settings.image_seeds]
        injection = recorder.maps(steps_to_run(settings, img2img)) if recorder is not None else None
        return GenerationResult(images, pixels, settings.image_seeds, parameters, text.warnings, maps, injection)

    def _start(self, settings: GenerationSettings, init_image: Image.Image | None, mask_image: Image.Image | None,
               latent_fill: LatentFill) -> LatentStart:  # fmt: skip
        """Where the latents start: noise, the init image, or the init image within a mask."""
        if init_image is None:
            return FROM_NOISE
        posterior = self.posterior(init_image, settings)
        if mask_image is None:
            return FromImage(posterior, settings.strength)
        return Inpainting.prepare(self.models, init_image, mask_image, posterior, settings, latent_fill)

    def parameters_text(
        self, settings: GenerationSettings, seed: int, units: Sequence[UnitRequest], used: Sequence[bool], img2img: bool
    ) -> str:
        """One image's A1111 ``parameters``: its settings, the units that acted, the models as A1111 names them."""
        _, loras = read_tags(settings.prompt)
        # the name of the model that ran, and the units' masks with that model's own length
        settings = in_model_terms(replace(settings, base_model=self.base_model.name), self.models.architecture)
        return format_parameters(
            settings, seed, ip_used=used[0], ip2_used=used[1], img2img=img2img,
            extra={**png_pairs(settings, units, used), **self.catalog.ip_png_name(settings.ip.variant, used[0])},
            model_hash=self.base_model.hash, vae=self.models.vae_name,
            lora_hashes={use.name: self.loras.hash(use.name) for use in loras},
        )  # fmt: skip
