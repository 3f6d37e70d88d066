"""diffusers' stock pipelines on the tiny model set: the reference our loop must equal."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import (
    ControlNetModel,
    DiffusionPipeline,
    StableDiffusionAdapterPipeline,
    StableDiffusionControlNetPipeline,
    StableDiffusionImg2ImgPipeline,
    StableDiffusionPipeline,
    T2IAdapter,
)
from PIL import Image

from ipa_demo.models.catalog import IP_ADAPTERS
from ipa_demo.models.loading import weights_variant
from ipa_demo.schedulers import make_scheduler
from ipa_demo.settings import GenerationSettings


@dataclass
class ReferencePipeline:
    pipe: StableDiffusionPipeline
    scheduler_config: Any  # the model's own, before any swap

    @classmethod
    def load(
        cls,
        models_dir: Path,
        ip_variant: str | list[str] | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> ReferencePipeline:
        weights = weights_variant(models_dir / "stable-diffusion-v1-5" / "unet", "diffusion_pytorch_model.safetensors")
        pipe = StableDiffusionPipeline.from_pretrained(
            models_dir / "stable-diffusion-v1-5", safety_checker=None, torch_dtype=dtype, variant=weights
        ).to(device)
        pipe.set_progress_bar_config(disable=True)
        if ip_variant is not None:  # several: one adapter each, as diffusers' weight_name=[...] loads them
            variants = [ip_variant] if isinstance(ip_variant, str) else ip_variant
            weights = [IP_ADAPTERS[variant].path_in_repo.removeprefix("models/") for variant in variants]
            pipe.load_ip_adapter(
                str(models_dir / "IP-Adapter"),
                subfolder="models",
                weight_name=weights,
                image_encoder_folder="image_encoder",
            )
        return cls(pipe, pipe.scheduler.config)

    def with_class(self, pipeline_class: type[DiffusionPipeline], **extra: object) -> DiffusionPipeline:
        """Another stock pipeline over the same components (and the same IP-Adapter, if loaded)."""
        accepted = inspect.signature(pipeline_class.__init__).parameters
        components = {name: value for name, value in self.pipe.components.items() if name in accepted}
        pipe = pipeline_class(**components, **extra)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def run(
        self,
        settings: GenerationSettings,
        ip_scale: float | dict[str, Any] | None = None,
        reference: Image.Image | None = None,
        init_image: Image.Image | None = None,
        controlnet: ControlNetModel | list[ControlNetModel] | None = None,
        adapter: T2IAdapter | list[T2IAdapter] | None = None,
        control_map: Image.Image | list[Image.Image] | None = None,
        **ip_inputs: object,
    ) -> np.ndarray:
        """The same request through diffusers; ``ip_scale`` as ``set_ip_adapter_scale`` takes it.

        ``ip_inputs`` go to the pipeline call as they are (``ip_adapter_image_embeds``,
        ``cross_attention_kwargs``, ``ip_adapter_image`` lists), for the parity tests of issue 14.
        A list of ControlNets (or T2I-Adapters) takes a list of maps, one per unit of
        ``settings.controlnet_units`` (``t2i_units``), whose scales and windows it is given.
        """
        pipe = self.pipe
        kwargs: dict[str, object] = dict(ip_inputs)
        if ip_scale is not None:
            pipe.set_ip_adapter_scale(ip_scale)
            if reference is not None:
                kwargs["ip_adapter_image"] = reference
        if controlnet is not None:
            pipe = self.with_class(StableDiffusionControlNetPipeline, controlnet=controlnet)
            units = settings.controlnet_units if isinstance(controlnet, list) else (settings.controlnet,)
            one = not isinstance(controlnet, list)
            kwargs.update(
                image=control_map,
                controlnet_conditioning_scale=units[0].scale if one else [unit.scale for unit in units],
                control_guidance_start=units[0].start if one else [unit.start for unit in units],
                control_guidance_end=units[0].end if one else [unit.end for unit in units],
                guess_mode=settings.guess_mode,
            )
        elif adapter is not None:
            pipe = self.with_class(StableDiffusionAdapterPipeline, adapter=adapter)
            scale = [unit.scale for unit in settings.t2i_units] if isinstance(adapter, list) else settings.t2i.scale
            kwargs.update(image=control_map, adapter_conditioning_scale=scale)
        if init_image is not None:
            pipe = self.with_class(StableDiffusionImg2ImgPipeline)
            kwargs.update(image=init_image, strength=settings.strength)
        else:
            kwargs.update(height=settings.height, width=settings.width)
        pipe.scheduler = make_scheduler(settings.scheduler, self.scheduler_config)
        return pipe(
            settings.prompt,
            negative_prompt=settings.negative_prompt,
            num_inference_steps=settings.steps,
            guidance_scale=settings.guidance,
            num_images_per_prompt=settings.num_images,
            generator=[torch.Generator("cpu").manual_seed(seed) for seed in settings.image_seeds],
            output_type="np",
            **kwargs,
        ).images
