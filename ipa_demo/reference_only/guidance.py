"""Reference-only, the algorithm A1111's ControlNet extension made known, in our loop.

Each step the reference latent is re-noised to the current timestep and run through the UNet:
every selected self-attention of the generated latents then attends over [own tokens ; reference
tokens], and with AdaIN every selected block output is renormalised to the reference's per-channel
mean and variance. Style fidelity blends the result where both CFG halves see the reference with
the one where only the conditional half does.

The default ("exact") is the computation of the family's diffusers community pipeline
(``stable_diffusion_reference``, ``stable_diffusion_xl_reference``): the reference latent is sampled
once from the VAE posterior per image, re-noised every step with fresh noise, and run in its own
UNet call on the same CFG batch as the generated latents (the same text, and on SDXL the same pooled
text and time ids), before them; random numbers are drawn in the same order. The two pipelines
differ in one thing: under CFG, SD 1.5's re-noises the reference once for both halves, SDXL's once
per half (``NOISE_EACH_GUIDANCE_HALF``). "Fast" puts the
first image's reference latent, with the conditional prompt, as one extra row in front of the
step's own UNet call: one call a step instead of two, an approximation (the reference sees one
prompt, and float rounding differs). How the layers act is in ``hooks``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from functools import partial

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention import BasicTransformerBlock
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
from diffusers.models.unets.unet_2d_blocks import CrossAttnDownBlock2D, CrossAttnUpBlock2D
from diffusers.utils.torch_utils import randn_tensor

from ..conditioner import Conditioner, Sampling, Step
from ..settings import ReferenceOnlySettings
from ..unet_call import UNetCall
from ..windows import step_in_window
from .state import BanksFilled, Phase, ReferencePass, activate

# Per architecture family, whether exact mode draws the reference's noise for each CFG half apart.
NOISE_EACH_GUIDANCE_HALF = {"sd15": False, "sdxl": True}


def attention_layers_for(unet: UNet2DConditionModel, weight: float) -> frozenset[str]:
    """The community pipeline's choice: widest blocks first, block i of n reads if weight > i/n."""
    blocks = [(name, module) for name, module in unet.named_modules() if isinstance(module, BasicTransformerBlock)]
    ranked = sorted(blocks, key=lambda item: -item[1].norm1.normalized_shape[0])  # stable: keeps model order
    return frozenset(name for rank, (name, _) in enumerate(ranked) if weight > rank / len(ranked))


def adain_points_for(unet: UNet2DConditionModel, weight: float) -> frozenset[str]:
    """Mid block always; down block w of n when weight ≥ 2(1 - w/n); up block w when weight ≥ 2w/n."""
    points = ["mid_block"]
    for direction, blocks in (("down", unet.down_blocks), ("up", unet.up_blocks)):
        for index, block in enumerate(blocks):
            fraction = index / len(blocks)
            threshold = 2 * (1.0 - fraction) if direction == "down" else 2 * fraction
            if weight >= threshold:
                points.extend(_sublayer_points(f"{direction}_blocks.{index}", block))
    return frozenset(points)


def _sublayer_points(prefix: str, block: torch.nn.Module) -> list[str]:
    """AdaIN acts after each resnet (+ attention) of a block: hook the attention if there is one."""
    if isinstance(block, (CrossAttnDownBlock2D, CrossAttnUpBlock2D)):
        return [f"{prefix}.attentions.{index}" for index in range(len(block.attentions))]
    return [f"{prefix}.resnets.{index}" for index in range(len(block.resnets))]


@dataclass(frozen=True)
class ReferenceGuidance(Conditioner):
    """Reference-only for one generation: the reference's VAE posterior and what to do each step."""

    posterior: DiagonalGaussianDistribution  # of the reference at the generation size
    settings: ReferenceOnlySettings
    attention_layers: frozenset[str]
    adain_points: frozenset[str]
    noise_each_half: bool = False  # under CFG, each half's reference gets its own noise (SDXL's pipeline)

    @classmethod
    def prepare(
        cls,
        unet: UNet2DConditionModel,
        posterior: DiagonalGaussianDistribution,
        settings: ReferenceOnlySettings,
        family: str,
    ) -> ReferenceGuidance:
        """``family``: the base model's ``Architecture.family``, whose community pipeline exact mode follows."""
        uses_attention = settings.mode in ("attn", "attn+adain")
        uses_adain = settings.mode in ("adain", "attn+adain")
        return cls(
            posterior,
            settings,
            attention_layers_for(unet, settings.weight) if uses_attention else frozenset(),
            adain_points_for(unet, settings.weight) if uses_adain else frozenset(),
            NOISE_EACH_GUIDANCE_HALF[family],
        )

    def begin(self, sampling: Sampling) -> RunningReference:
        """Each image's reference latent: sampled once, after the loop's own initial draws."""
        return RunningReference(self, sampling.sample(self.posterior), sampling.draw, tuple(sampling.generators))

    def join(self, call: UNetCall, step: Step) -> UNetCall:
        raise RuntimeError("reference-only joins a run only once begun with the run's random streams")

    def pass_for(self, phase: Phase, uncond_rows: torch.Tensor | None) -> ReferencePass:
        return ReferencePass(phase, self.attention_layers, self.adain_points, self.settings.fidelity, uncond_rows)


@dataclass(frozen=True)
class RunningReference(Conditioner):
    """Reference-only within one run: its latents, re-noised with fresh noise every step."""

    guidance: ReferenceGuidance
    latents: torch.Tensor
    draw: Callable[[tuple[int, ...]], torch.Tensor]
    generators: tuple[torch.Generator, ...]  # one per image, as ``draw`` uses them

    def join(self, call: UNetCall, step: Step) -> UNetCall:
        noise = self._noise(step.guided)  # every step, in or out of the window: one random stream
        settings = self.guidance.settings
        if not step_in_window(step.index, step.total, settings.start, settings.end):
            return call
        reference_pass, call = self._prepare_step(noise, call, step)
        return replace(call, during=(*call.during, partial(activate, reference_pass)))

    def _noise(self, guided: bool) -> torch.Tensor:
        """This step's noise for the reference: a row per image, or with ``noise_each_half`` under CFG
        a row per image and half, [unconditional × n ; conditional × n], each image's two rows drawn
        together from its generator (as SDXL's pipeline draws them for one image)."""
        if not (guided and self.guidance.noise_each_half):
            return self.draw(self.latents.shape)
        latents = self.latents
        pairs = [
            randn_tensor((2, *latents.shape[1:]), generator=generator, device=latents.device, dtype=latents.dtype)
            for generator in self.generators
        ]
        return torch.stack(pairs, dim=1).flatten(0, 1)

    def _prepare_step(self, noise: torch.Tensor, call: UNetCall, step: Step) -> tuple[ReferencePass, UNetCall]:
        """The reference at this step's noise level: the pass to activate around the step's call.

        Exact: the write call runs here and the step's call is unchanged. Fast: the first image's
        reference latent, with the conditional prompt, becomes row 0 of the step's call.
        """
        scheduler, timestep, latents, guided = step.scheduler, step.timestep, self.latents, step.guided
        rows = len(call.sample)  # the rows that read: CFG halves of every image
        uncond_rows = torch.arange(rows, device=latents.device) < rows // 2 if guided else None
        conditional_row = len(latents) if guided else 0
        if self.guidance.settings.fast:  # the first image's conditional reference
            first_noise = noise[conditional_row : conditional_row + 1] if len(noise) > len(latents) else noise[:1]
            noisy = scheduler.add_noise(latents[:1], first_noise, timestep.reshape(1))
            front_row = scheduler.scale_model_input(noisy, timestep)
            return self.guidance.pass_for("single", uncond_rows), call.with_row_in_front(front_row, conditional_row)
        if len(noise) > len(latents):  # a noise row per CFG half
            noisy = scheduler.add_noise(torch.cat([latents] * 2), noise, timestep.reshape(1))
        else:
            noisy = scheduler.add_noise(latents, noise, timestep.reshape(1))
            noisy = torch.cat([noisy] * 2) if guided else noisy
        noisy = scheduler.scale_model_input(noisy, timestep)
        state = self.guidance.pass_for("write", uncond_rows)
        with activate(state), suppress(BanksFilled):
            written = UNetCall(noisy, call.text, call.attention, added_cond_kwargs=call.added_cond_kwargs)
            written.run(step.unet, timestep)
        return state.reading(), call
