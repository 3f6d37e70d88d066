"""Reference-only as diffusers' two community pipelines compute it, rewritten for these tests:
``StableDiffusionReferencePipeline`` (``examples/community/stable_diffusion_reference.py``) for SD 1.5
and ``StableDiffusionXLReferencePipeline`` (``stable_diffusion_xl_reference.py``) for SDXL.

Those pipelines are not in the diffusers wheel and nothing here reaches the Hub, so the parity tests
compare the engine with this rewrite, written for this project from a reading of those files. It is
built the way the community files are, not the way the engine is: it replaces the forwards of the
UNet's transformer blocks and of its down, mid and up blocks for one run (the engine uses attention
processors and forward hooks that read a per-call context), and writes its own denoising loop over
the stock pipeline's pieces (``encode_prompt``, ``prepare_latents``, on SDXL ``_get_add_time_ids``,
the scheduler). The community behaviours it follows:

- the reference image is resized to the generation size with Lanczos, scaled to [-1, 1], encoded by
  the VAE and sampled with image i's generator after the initial latents were drawn, times the
  VAE's scaling factor;
- every step, before the step's UNet call: noise from the generators, ``add_noise`` at t,
  ``scale_model_input``, and a "write" UNet call with the step's text embeddings (on SDXL with its
  ``added_cond_kwargs``: pooled text, time ids); then the "read" call of the generated latents. The
  two files differ in the noise under CFG: SD 1.5's draws one noise per image and doubles the noised
  reference (both halves alike); SDXL's doubles the reference first and draws noise for each half;
- ``reference_attn``: every ``BasicTransformerBlock``, ordered widest first by ``norm1``'s size
  (ties in module order); block i of n reads when ``attention_auto_machine_weight > i / n``. Write
  keeps norm1's output; read runs attn1 over [own tokens ; kept tokens], and under CFG with
  ``style_fidelity > 0`` also the unconditional rows over their own tokens only, giving
  ``style_fidelity · (unconditional rows without the reference) + (1 − style_fidelity) · (all with it)``;
- ``reference_adain``: the mid block's output always; in down block w of n after each resnet
  (+ its attention) when ``gn_auto_machine_weight ≥ 2 (1 − w / n)``, in up block w when
  ``≥ 2 w / n``. Write keeps the per-channel mean and (population) variance; read renormalises to
  them with each std floored at sqrt(1e-6), blended by ``style_fidelity`` as above.

Like the files, one generator per image; the SDXL file under CFG draws a noise row per half from the
list of generators, so it takes one image there (two images would need four generators, and fail).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from dataclasses import replace
from functools import partial
from typing import TypeVar

import numpy as np
import torch
from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
from diffusers.models.attention import BasicTransformerBlock
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image

from ipa_demo.schedulers import make_scheduler
from ipa_demo.settings import GenerationSettings, ReferenceOnlySettings

from .helpers import noise_image

_EPS = 1e-6
PipelineT = TypeVar("PipelineT", StableDiffusionPipeline, StableDiffusionXLPipeline)
MODES = {"attn": (True, False), "adain": (False, True), "attn+adain": (True, True)}  # ours -> the pipelines' flags


def with_reference(settings: GenerationSettings, **options: object) -> GenerationSettings:
    """``settings`` with exact reference-only, attn+adain unless ``options`` say otherwise."""
    chosen = ReferenceOnlySettings(**{"mode": "attn+adain", **options})  # type: ignore[arg-type]
    return replace(settings, reference_only=chosen)


def frozen(pipe: PipelineT) -> PipelineT:
    """``pipe`` with every model frozen, as the engine loads them: on the CPU that picks the same attention kernel."""
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            component.requires_grad_(False)
    return pipe


def reference_picture() -> Image.Image:
    """At the generation's size: the pipelines stretch a reference, the engine crops it as A1111 does."""
    return noise_image(64, 64, seed=21)


def parity_cases(plain: GenerationSettings, *, batch_under_cfg: bool) -> dict[str, GenerationSettings]:
    """The cases the engine must equal a community pipeline in: every mode, fidelity 0 and 1, a partial
    weight, a scheduler that draws its own noise, batches (under CFG only where the pipeline takes one)."""
    cases = {
        "attn": with_reference(plain, mode="attn"),
        "adain": with_reference(plain, mode="adain"),
        "attn+adain": with_reference(plain),
        "fidelity-0": with_reference(plain, fidelity=0.0),
        "fidelity-1-euler-a": with_reference(replace(plain, scheduler="Euler a"), fidelity=1.0),
        "weight-0.6": with_reference(plain, weight=0.6),
        "no-cfg-2-images": with_reference(replace(plain, guidance=1.0, num_images=2)),
    }
    if batch_under_cfg:
        cases["cfg-2-images"] = with_reference(replace(plain, num_images=2))
    return cases


def _depth_first(module: torch.nn.Module) -> Iterator[torch.nn.Module]:
    yield module
    for child in module.children():
        yield from _depth_first(child)


@dataclass
class _Patched:
    """The replaced forwards of one run and the banks they share."""

    attention_weight: float
    gn_weight: float
    fidelity: float
    unconditional: torch.Tensor | None  # rows of the CFG batch; None without CFG
    mode: str = "write"
    reading_blocks: set[int] = field(default_factory=set)  # id() of transformer blocks that read
    kept_tokens: dict[int, list[torch.Tensor]] = field(default_factory=dict)
    kept_statistics: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    adain_places: set[str] = field(default_factory=set)
    modules: list[torch.nn.Module] = field(default_factory=list)

    def blend(self, with_reference: torch.Tensor, unconditional_plain: torch.Tensor) -> torch.Tensor:
        if self.unconditional is None or self.fidelity <= 0:
            return with_reference
        halves = with_reference.clone()
        halves[self.unconditional] = unconditional_plain
        return self.fidelity * halves + (1.0 - self.fidelity) * with_reference

    def replace(self, module: torch.nn.Module, forward: object) -> None:
        module.forward = forward  # type: ignore[method-assign]
        self.modules.append(module)

    def restore(self) -> None:
        for module in self.modules:
            del module.forward

    # reference_attn
    def transformer(
        self,
        block: BasicTransformerBlock,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        timestep: object = None,
        cross_attention_kwargs: dict | None = None,
        class_labels: object = None,
        added_cond_kwargs: object = None,
    ) -> torch.Tensor:
        assert block.norm_type == "layer_norm" and not block.only_cross_attention and block.pos_embed is None
        extra = dict(cross_attention_kwargs or {})
        normed = block.norm1(hidden_states)
        kept = self.kept_tokens.setdefault(id(block), [])
        if self.mode == "write":
            kept.append(normed.detach().clone())
            attended = block.attn1(normed, attention_mask=attention_mask, **extra)
        elif id(block) in self.reading_blocks:
            attended = block.attn1(normed, encoder_hidden_states=torch.cat([normed, *kept], dim=1), **extra)
            if self.unconditional is not None and self.fidelity > 0:
                rows = normed[self.unconditional]
                attended = self.blend(attended, block.attn1(rows, encoder_hidden_states=rows, **extra))
            kept.clear()
        else:
            attended = block.attn1(normed, attention_mask=attention_mask, **extra)
        hidden_states = attended + hidden_states
        crossed = block.attn2(
            block.norm2(hidden_states), encoder_hidden_states=encoder_hidden_states,
            attention_mask=encoder_attention_mask, **extra,
        )  # fmt: skip
        hidden_states = crossed + hidden_states
        return block.ff(block.norm3(hidden_states)) + hidden_states

    # reference_adain
    def renormalise(self, place: str, hidden: torch.Tensor) -> torch.Tensor:
        if place not in self.adain_places:
            return hidden
        var, mean = torch.var_mean(hidden, dim=(2, 3), keepdim=True, correction=0)
        if self.mode == "write":
            self.kept_statistics[place] = (mean, var)
            return hidden
        kept_mean, kept_var = self.kept_statistics.pop(place)
        std = torch.maximum(var, torch.zeros_like(var) + _EPS) ** 0.5
        kept_std = torch.maximum(kept_var, torch.zeros_like(kept_var) + _EPS) ** 0.5
        moved = (hidden - mean) / std * kept_std + kept_mean
        return self.blend(moved, hidden[self.unconditional]) if self.unconditional is not None else moved

    def down(self, name: str, block: torch.nn.Module, hidden_states: torch.Tensor, temb: torch.Tensor | None = None,
             encoder_hidden_states: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None,
             cross_attention_kwargs: dict | None = None, encoder_attention_mask: torch.Tensor | None = None,
             **_: object) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:  # fmt: skip
        cross = {"encoder_hidden_states": encoder_hidden_states, "cross_attention_kwargs": cross_attention_kwargs,
                 "attention_mask": attention_mask, "encoder_attention_mask": encoder_attention_mask}  # fmt: skip
        outputs: tuple[torch.Tensor, ...] = ()
        attentions = getattr(block, "attentions", None) or [None] * len(block.resnets)
        for index, (resnet, attention) in enumerate(zip(block.resnets, attentions, strict=True)):
            hidden_states = resnet(hidden_states, temb)
            if attention is not None:
                hidden_states = attention(hidden_states, **cross, return_dict=False)[0]
            hidden_states = self.renormalise(f"{name}.{index}", hidden_states)
            outputs += (hidden_states,)
        if block.downsamplers is not None:
            for downsampler in block.downsamplers:
                hidden_states = downsampler(hidden_states)
            outputs += (hidden_states,)
        return hidden_states, outputs

    def up(self, name: str, block: torch.nn.Module, hidden_states: torch.Tensor,
           res_hidden_states_tuple: tuple[torch.Tensor, ...], temb: torch.Tensor | None = None,
           encoder_hidden_states: torch.Tensor | None = None, cross_attention_kwargs: dict | None = None,
           upsample_size: int | None = None, attention_mask: torch.Tensor | None = None,
           encoder_attention_mask: torch.Tensor | None = None, **_: object) -> torch.Tensor:  # fmt: skip
        cross = {"encoder_hidden_states": encoder_hidden_states, "cross_attention_kwargs": cross_attention_kwargs,
                 "attention_mask": attention_mask, "encoder_attention_mask": encoder_attention_mask}  # fmt: skip
        skips = list(res_hidden_states_tuple)
        attentions = getattr(block, "attentions", None) or [None] * len(block.resnets)
        for index, (resnet, attention) in enumerate(zip(block.resnets, attentions, strict=True)):
            hidden_states = resnet(torch.cat([hidden_states, skips.pop()], dim=1), temb)
            if attention is not None:
                hidden_states = attention(hidden_states, **cross, return_dict=False)[0]
            hidden_states = self.renormalise(f"{name}.{index}", hidden_states)
        if block.upsamplers is not None:
            for upsampler in block.upsamplers:
                hidden_states = upsampler(hidden_states, upsample_size)
        return hidden_states

    def mid(self, block: torch.nn.Module, *args: object, **kwargs: object) -> torch.Tensor:
        return self.renormalise("mid", type(block).forward(block, *args, **kwargs))


def _patch(pipe: StableDiffusionPipeline | StableDiffusionXLPipeline, attn: bool, adain: bool, patched: _Patched) -> None:
    unet = pipe.unet
    if attn:
        blocks = [module for module in _depth_first(unet) if isinstance(module, BasicTransformerBlock)]
        ranked = sorted(blocks, key=lambda block: -block.norm1.normalized_shape[0])
        for rank, block in enumerate(ranked):
            patched.replace(block, partial(patched.transformer, block))
            if patched.attention_weight > rank / len(ranked):
                patched.reading_blocks.add(id(block))
    if adain:
        patched.adain_places.add("mid")
        patched.replace(unet.mid_block, partial(patched.mid, unet.mid_block))
        for direction, blocks in (("down", unet.down_blocks), ("up", unet.up_blocks)):
            for place, block in enumerate(blocks):
                share = place / len(blocks)
                threshold = 2 * (1.0 - share) if direction == "down" else 2 * share
                name = f"{direction}{place}"
                forward = patched.down if direction == "down" else patched.up
                patched.replace(block, partial(forward, name, block))
                if patched.gn_weight >= threshold:
                    patched.adain_places.update(f"{name}.{index}" for index in range(len(block.resnets)))


@torch.no_grad()
def community_reference(
    pipe: StableDiffusionPipeline | StableDiffusionXLPipeline,
    *,
    prompt: str,
    negative_prompt: str | None,
    ref_image: Image.Image,
    height: int,
    width: int,
    steps: int,
    guidance: float,
    generators: list[torch.Generator],
    reference_attn: bool,
    reference_adain: bool,
    style_fidelity: float = 0.5,
    attention_auto_machine_weight: float = 1.0,
    gn_auto_machine_weight: float = 1.0,
) -> np.ndarray:
    """The pipeline's output as float images in [0, 1], (n, h, w, 3); ``pipe``'s UNet is left as it was."""
    device, images, guided = pipe.unet.device, len(generators), guidance > 1.0
    xl = isinstance(pipe, StableDiffusionXLPipeline)
    encoded = pipe.encode_prompt(
        prompt=prompt, device=device, num_images_per_prompt=images, do_classifier_free_guidance=guided,
        negative_prompt=negative_prompt,
    )  # fmt: skip
    embeds, negative = encoded[0], encoded[1]
    text = torch.cat([negative, embeds]) if guided else embeds
    added = None
    if xl:
        pooled, negative_pooled = encoded[2], encoded[3]
        time_ids = pipe._get_add_time_ids(
            (height, width), (0, 0), (height, width), dtype=embeds.dtype,
            text_encoder_projection_dim=pipe.text_encoder_2.config.projection_dim,
        )  # fmt: skip
        time_ids = torch.cat([time_ids] * (2 if guided else 1)).to(device).repeat(images, 1)
        added = {"text_embeds": torch.cat([negative_pooled, pooled]) if guided else pooled, "time_ids": time_ids}
    pixels = np.asarray(ref_image.convert("RGB").resize((width, height), Image.LANCZOS), dtype=np.float32) / 255.0
    ref = torch.from_numpy((pixels - 0.5) / 0.5).permute(2, 0, 1)[None].repeat(images, 1, 1, 1).to(device)
    scheduler = pipe.scheduler
    scheduler.set_timesteps(steps, device=device)
    latents = pipe.prepare_latents(images, pipe.unet.config.in_channels, height, width, embeds.dtype, device,
                                   generators)  # fmt: skip
    ref_latents = torch.cat(
        [pipe.vae.encode(ref[i : i + 1]).latent_dist.sample(generator=generators[i]) for i in range(images)]
    ) * pipe.vae.config.scaling_factor  # fmt: skip
    noise_each_half = xl and guided
    if noise_each_half:
        ref_latents = torch.cat([ref_latents] * 2)
    step_kwargs = pipe.prepare_extra_step_kwargs(generators, 0.0)
    unconditional = torch.tensor([True] * images + [False] * images) if guided else None
    patched = _Patched(attention_auto_machine_weight, gn_auto_machine_weight, style_fidelity, unconditional)
    _patch(pipe, reference_attn, reference_adain, patched)
    try:
        for timestep in scheduler.timesteps:
            model_input = scheduler.scale_model_input(torch.cat([latents] * 2) if guided else latents, timestep)
            noise = randn_tensor(ref_latents.shape, generator=generators, device=device, dtype=ref_latents.dtype)
            ref_noisy = scheduler.add_noise(ref_latents, noise, timestep.reshape(1))
            if guided and not noise_each_half:
                ref_noisy = torch.cat([ref_noisy] * 2)
            ref_noisy = scheduler.scale_model_input(ref_noisy, timestep)
            patched.mode = "write"
            pipe.unet(ref_noisy, timestep, encoder_hidden_states=text, added_cond_kwargs=added, return_dict=False)
            patched.mode = "read"
            prediction = pipe.unet(
                model_input, timestep, encoder_hidden_states=text, added_cond_kwargs=added, return_dict=False
            )[0]
            if guided:
                unguided, conditional = prediction.chunk(2)
                prediction = unguided + guidance * (conditional - unguided)
            latents = scheduler.step(prediction, timestep, latents, **step_kwargs, return_dict=False)[0]
    finally:
        patched.restore()
    decoded = pipe.vae.decode(latents / pipe.vae.config.scaling_factor, return_dict=False)[0]
    return pipe.image_processor.postprocess(decoded, output_type="np")


def community_run(
    pipe: StableDiffusionPipeline | StableDiffusionXLPipeline, settings: GenerationSettings, picture: Image.Image
) -> np.ndarray:
    """What the community pipeline makes of ``settings`` (its scheduler, seeds and reference options)."""
    options = settings.reference_only
    attn, adain = MODES[options.mode]
    pipe.scheduler = make_scheduler(settings.scheduler, pipe.scheduler.config)
    return community_reference(
        pipe, prompt=settings.prompt, negative_prompt=settings.negative_prompt or None, ref_image=picture,
        height=settings.height, width=settings.width, steps=settings.steps, guidance=settings.guidance,
        generators=[torch.Generator().manual_seed(seed) for seed in settings.image_seeds],
        reference_attn=attn, reference_adain=adain, style_fidelity=options.fidelity,
        attention_auto_machine_weight=options.weight, gn_auto_machine_weight=options.weight,
    )  # fmt: skip
