"""Reference-only, the algorithm A1111's ControlNet extension made known, in our loop.

Each step the reference latent is re-noised to the current timestep and run through the UNet
("write"): every selected self-attention stores its input, and with AdaIN every selected
block stores per-channel mean and variance. The generated latent's pass ("read") then
self-attends over [own tokens ; reference tokens] and renormalises to the stored statistics.
Style fidelity blends the result where both CFG halves see the reference with the one where
only the conditional half does.

The default ("exact") is the computation of diffusers' community pipeline
``stable_diffusion_reference``: the reference latent is sampled once from the VAE posterior per
image, re-noised every step with fresh noise, and the write pass runs on the same CFG batch as the
read pass; random numbers are drawn in the same order. "Fast" runs the write pass once per step
at batch 1 (first image, conditional prompt), an approximation that costs about half as much.

State travels in a context variable set around each UNet call, read by our self-attention
processors and by forward hooks on the UNet blocks: nothing about a request stays in the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import torch
from diffusers import UNet2DConditionModel
from diffusers.models.attention import BasicTransformerBlock
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
from diffusers.models.unets.unet_2d_blocks import CrossAttnDownBlock2D, CrossAttnUpBlock2D
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from .ip_adapter import IPAttention
from .settings import ReferenceOnlySettings
from .windows import step_in_window

_EPS = 1e-6
_ACTIVE: ContextVar[ReferencePass | None] = ContextVar("reference_pass", default=None)


@dataclass
class ReferencePass:
    """One step's shared state: the write pass fills the banks, the read pass uses them."""

    writing: bool
    attention_layers: frozenset[str]  # transformer blocks whose self-attention reads the reference
    adain_points: frozenset[str]  # block outputs renormalised to the reference's statistics
    fidelity: float
    uncond_rows: torch.Tensor | None  # True for the unconditional half of a CFG batch; None without CFG
    attention_bank: dict[str, torch.Tensor] = field(default_factory=dict)
    adain_bank: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)

    def reading(self) -> ReferencePass:
        return ReferencePass(
            False, self.attention_layers, self.adain_points, self.fidelity, self.uncond_rows,
            self.attention_bank, self.adain_bank,
        )  # fmt: skip

    def blend(self, with_reference: torch.Tensor, unconditional_plain: torch.Tensor | None) -> torch.Tensor:
        """Style fidelity: f · (uncond half without the reference) + (1 - f) · (all with it)."""
        if self.uncond_rows is None or self.fidelity == 0 or unconditional_plain is None:
            return with_reference
        conditional_only = with_reference.clone()
        conditional_only[self.uncond_rows] = unconditional_plain
        return self.fidelity * conditional_only + (1.0 - self.fidelity) * with_reference


def active_pass() -> ReferencePass | None:
    return _ACTIVE.get()


@contextmanager
def activate(reference_pass: ReferencePass | None) -> Iterator[None]:
    token = _ACTIVE.set(reference_pass)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


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


class SelfAttnProcessor:
    """attn1: plain self-attention, or over [own tokens ; reference tokens] during a read pass."""

    def __init__(self, block: str) -> None:
        self.block = block  # the BasicTransformerBlock this attention belongs to
        self._plain = AttnProcessor2_0()

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        ip: object = None,  # for attn2; accepted so every processor takes the same kwargs
    ) -> torch.Tensor:
        state = active_pass()
        if state is None or self.block not in state.attention_layers:
            return self._plain(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        if state.writing:
            state.attention_bank[self.block] = hidden_states
            return self._plain(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        reference = state.attention_bank[self.block]
        reference = reference.expand(hidden_states.shape[0], -1, -1)  # the fast pass writes batch 1
        with_reference = self._plain(attn, hidden_states, torch.cat([hidden_states, reference], dim=1))
        uncond = None
        if state.uncond_rows is not None and state.fidelity > 0:
            own = hidden_states[state.uncond_rows]
            uncond = self._plain(attn, own, own)
        return state.blend(with_reference, uncond)


def _adain_hook(point: str):  # noqa: ANN202 - a torch forward hook
    def hook(_module: torch.nn.Module, _args: object, output: torch.Tensor | tuple) -> object:
        state = active_pass()
        if state is None or point not in state.adain_points:
            return None
        hidden = output[0] if isinstance(output, tuple) else output
        var, mean = torch.var_mean(hidden, dim=(2, 3), keepdim=True, correction=0)
        if state.writing:
            state.adain_bank[point] = (mean, var)
            return None
        ref_mean, ref_var = state.adain_bank[point]
        std = torch.maximum(var, torch.zeros_like(var) + _EPS) ** 0.5
        ref_std = torch.maximum(ref_var, torch.zeros_like(ref_var) + _EPS) ** 0.5
        renormalised = (((hidden - mean) / std) * ref_std) + ref_mean
        uncond = hidden[state.uncond_rows] if state.uncond_rows is not None else None
        blended = state.blend(renormalised, uncond)
        return (blended, *output[1:]) if isinstance(output, tuple) else blended

    return hook


def install_adain_hooks(unet: UNet2DConditionModel) -> None:
    """Once per UNet: hooks do nothing unless a reference pass is active."""
    every_point = adain_points_for(unet, weight=float("inf"))
    for point in every_point:
        unet.get_submodule(point).register_forward_hook(_adain_hook(point))


@dataclass(frozen=True)
class ReferenceGuidance:
    """Reference-only for one generation: the reference's VAE posterior and what to do each step."""

    posterior: DiagonalGaussianDistribution  # of the reference at the generation size
    settings: ReferenceOnlySettings
    attention_layers: frozenset[str]
    adain_points: frozenset[str]

    @classmethod
    def prepare(
        cls, unet: UNet2DConditionModel, posterior: DiagonalGaussianDistribution, settings: ReferenceOnlySettings
    ) -> ReferenceGuidance:
        uses_attention = settings.mode in ("attn", "attn+adain")
        uses_adain = settings.mode in ("adain", "attn+adain")
        return cls(
            posterior,
            settings,
            attention_layers_for(unet, settings.weight) if uses_attention else frozenset(),
            adain_points_for(unet, settings.weight) if uses_adain else frozenset(),
        )

    def acts_at(self, index: int, total: int) -> bool:
        return step_in_window(index, total, self.settings.start, self.settings.end)

    def write(
        self,
        unet: UNet2DConditionModel,
        scheduler: SchedulerMixin,
        latents: torch.Tensor,
        noise: torch.Tensor,
        timestep: torch.Tensor,
        text: torch.Tensor,
        ip: IPAttention | None,
        guided: bool,
    ) -> ReferencePass:
        """Run the reference through the UNet at this step's noise level; return the pass to read."""
        noisy = scheduler.add_noise(latents, noise, timestep.reshape(1))
        read_batch = len(noisy) * (2 if guided else 1)
        if self.settings.fast:  # first image, conditional prompt only
            row = len(noisy) if guided else 0
            noisy, text = noisy[:1], text[row : row + 1]
            ip = ip.rows(slice(row, row + 1)) if ip is not None else None
        elif guided:
            noisy = torch.cat([noisy] * 2)
        noisy = scheduler.scale_model_input(noisy, timestep)
        uncond_rows = torch.arange(read_batch, device=noisy.device) < read_batch // 2 if guided else None
        state = ReferencePass(True, self.attention_layers, self.adain_points, self.settings.fidelity, uncond_rows)
        with activate(state):
            unet(noisy, timestep, encoder_hidden_states=text, cross_attention_kwargs={"ip": ip}, return_dict=False)
        return state.reading()
