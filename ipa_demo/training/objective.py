"""One training step's arithmetic: SD's noise-prediction loss with the image prompt as extra condition.

Per sample: VAE latent (a posterior sample), a timestep, noise, and the decision to drop the text,
the image or both (so that classifier-free guidance works on each). Every one of these draws comes
from a generator seeded by the seed and the sample's global index, never from a process-wide RNG:
how the batch is split over processes, and where a run was resumed, cannot change them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DConditionModel
from torch import nn
from transformers import CLIPVisionModelWithProjection

from ..ip_adapter.attention import IPAttention
from ..ip_adapter.weights import IPAdapterWeights
from ..loop import needs_upcast
from ..models.loading import StableDiffusionModels
from ..sdxl.text import SizeConditioning
from .data import Batch

AddedConditions = dict[str, torch.Tensor]  # SDXL's ``added_cond_kwargs``: pooled text and time ids


@dataclass(frozen=True)
class DropRates:
    """Each sample drops exactly one of: nothing, the text, the image, both (official: 5 % each)."""

    text: float = 0.05
    image: float = 0.05
    both: float = 0.05


@dataclass(frozen=True)
class SampleDraws:
    timesteps: torch.Tensor  # (B,) long
    latent_noise: torch.Tensor  # (B, 4, h, w): for sampling the VAE posterior
    noise: torch.Tensor  # (B, 4, h, w): the noise the UNet must predict
    drop_text: list[bool]
    drop_image: list[bool]


def draw_for_samples(
    indices: list[int], seed: int, latent_shape: tuple[int, int, int], num_timesteps: int, drops: DropRates
) -> SampleDraws:
    timesteps, latent_noise, noise, drop_text, drop_image = [], [], [], [], []
    for index in indices:
        # numpy's seed sequence takes the pair whole; torch's CPU generator keeps only 32 bits of a seed.
        rng = np.random.default_rng([seed, index])
        u = float(rng.random())
        timesteps.append(torch.tensor(int(rng.integers(0, num_timesteps))))
        latent_noise.append(torch.from_numpy(rng.standard_normal(latent_shape, dtype=np.float32)))
        noise.append(torch.from_numpy(rng.standard_normal(latent_shape, dtype=np.float32)))
        image_only = u < drops.image
        text_only = drops.image <= u < drops.image + drops.text
        both = drops.image + drops.text <= u < drops.image + drops.text + drops.both
        drop_text.append(text_only or both)
        drop_image.append(image_only or both)
    return SampleDraws(torch.stack(timesteps), torch.stack(latent_noise), torch.stack(noise), drop_text, drop_image)


@dataclass(frozen=True)
class StepInputs:
    noisy_latents: torch.Tensor
    timesteps: torch.Tensor
    text: torch.Tensor
    image_encodings: torch.Tensor  # pooled embeds (base) or penultimate hidden states (plus)
    target: torch.Tensor
    added: AddedConditions | None = None  # SDXL only


class FrozenEncoders:
    """The models that do not learn: VAE, text encoder(s), image encoder, and the noise schedule."""

    def __init__(
        self, models: StableDiffusionModels, image_encoder: CLIPVisionModelWithProjection, uses_hidden_states: bool
    ) -> None:
        self.models = models
        self.image_encoder = image_encoder
        self.uses_hidden_states = uses_hidden_states
        self.noise_scheduler = DDPMScheduler.from_config(models.scheduler_config)
        # SDXL's VAE overflows in float16: the official SDXL script encodes in float32 (a copy here, so
        # that the preview grid's decoding keeps the model it shares with the app's loop as it is).
        upcast = models.two_encoders is not None and needs_upcast(models.vae)
        self.vae = copy.deepcopy(models.vae).to(torch.float32) if upcast else models.vae

    def latent_shape(self, resolution: int) -> tuple[int, int, int]:
        side = resolution // self.models.vae_scale_factor
        return (self.models.unet.config.in_channels, side, side)

    @torch.no_grad()
    def prepare(self, batch: Batch, draws: SampleDraws) -> StepInputs:
        models, device, dtype = self.models, self.models.device, self.models.dtype
        posterior = self.vae.encode(batch.pixels.to(device, self.vae.dtype)).latent_dist
        latents = posterior.mean + posterior.std * draws.latent_noise.to(device, self.vae.dtype)
        latents = (latents * self.vae.config.scaling_factor).to(dtype)
        noise = draws.noise.to(device, dtype)
        timesteps = draws.timesteps.to(device)
        noisy = self.noise_scheduler.add_noise(latents, noise, timesteps)
        if self.noise_scheduler.config.prediction_type == "v_prediction":
            target = self.noise_scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        captions = ["" if drop else caption for caption, drop in zip(batch.captions, draws.drop_text, strict=True)]
        text, added = self._encode_text(captions, batch)
        return StepInputs(noisy, timesteps, text, self._encode_images(batch, draws.drop_image), target, added)

    def _encode_text(self, captions: list[str], batch: Batch) -> tuple[torch.Tensor, AddedConditions | None]:
        """SD 1.5: the text encoder's last hidden states. SDXL: both encoders' penultimate ones side by
        side, and ``added_cond_kwargs`` from the second's pooled output and each image's size and crop.
        A dropped caption is encoded as "" (not zeros), as both official scripts do."""
        models, device, dtype = self.models, self.models.device, self.models.dtype
        if models.two_encoders is None:
            tokenizer = models.tokenizer
            ids = tokenizer(
                captions, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                return_tensors="pt",
            ).input_ids  # fmt: skip
            return models.text_encoder(ids.to(device))[0].to(dtype), None
        hidden, pooled, _ = models.two_encoders.encode_texts(captions)
        target = (batch.pixels.shape[-2], batch.pixels.shape[-1])
        sizes = [
            SizeConditioning((int(height), int(width)), (int(top), int(left)), target).time_ids()
            for (height, width), (top, left) in zip(batch.original_sizes, batch.crops_top_left, strict=True)
        ]
        time_ids = torch.tensor(sizes, device=device, dtype=dtype)
        return hidden.to(dtype), {"text_embeds": pooled.to(dtype), "time_ids": time_ids}

    def _encode_images(self, batch: Batch, drop: list[bool]) -> torch.Tensor:
        """A dropped image is what inference feeds as the negative: zero embeds, or a zero image (plus)."""
        keep = torch.tensor([not dropped for dropped in drop], device=self.models.device)
        pixels = batch.clip_pixels.to(self.models.device, self.image_encoder.dtype)
        if self.uses_hidden_states:
            pixels = pixels * keep[:, None, None, None].to(pixels.dtype)
            return self.image_encoder(pixels, output_hidden_states=True).hidden_states[-2]
        embeds = self.image_encoder(pixels).image_embeds
        return embeds * keep[:, None].to(embeds.dtype)


class AdapterTraining(nn.Module):
    """What accelerate wraps: the adapter, with the frozen UNet run inside its forward.

    The UNet sits in a tuple so that it is no submodule: DDP and DeepSpeed see only the adapter's
    parameters, and a saved state holds the adapter (megabytes), not the UNet (gigabytes).
    """

    def __init__(self, adapter: IPAdapterWeights, unet: UNet2DConditionModel, modules: int) -> None:
        super().__init__()
        self.adapter = adapter
        self._frozen = (unet,)
        self.layer_scales = (1.0,) * modules  # the image branch at full strength in every attention module

    def forward(
        self,
        noisy: torch.Tensor,
        timesteps: torch.Tensor,
        text: torch.Tensor,
        encodings: torch.Tensor,
        added: AddedConditions | None = None,
    ) -> torch.Tensor:
        tokens = self.adapter.image_tokens(encodings.to(self.adapter.dtype))
        unet = self._frozen[0]
        return unet(
            noisy,
            timesteps,
            encoder_hidden_states=text,
            added_cond_kwargs=added,
            cross_attention_kwargs={"ip": IPAttention(self.adapter, tokens, self.layer_scales)},
            return_dict=False,
        )[0]


def per_sample_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(prediction.float(), target.float(), reduction="none").mean(dim=tuple(range(1, target.ndim)))


def batch_loss(per_sample: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Divided by the batch size, not by the valid count: then the mean over processes that DDP takes
    of these equals the loss one process computes on the whole global batch, bad items included."""
    return (per_sample * weights.to(per_sample.device)).sum() / len(weights)
