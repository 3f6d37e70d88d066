"""Every generation setting, declared once.

A declaration says all that the four places a setting appears in need: its name (the API
parameter and the key of the UI's values), where it lives in ``GenerationSettings``, its type,
range or choices, the label and help a user reads, the CLI flag, the A1111 ``parameters`` key of
the PNG, and the kind of control that shows it. Defaults live on the settings dataclasses (one
place); the UI, the API signature and its validation, the CLI parser and the PNG writer and reader
are derived from these declarations (``values``, ``arguments``, ``parameters``, ``ui/controls``).
Choices come from the model catalog: ControlNet kinds from its ControlNets, T2I kinds from its
T2I-Adapters, variants from its IP-Adapter files.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from ..architecture.layers import CURVE_FORMULAS, DEFAULT_ARCHITECTURE, NUM_LAYERS, STAGE_NAMES
from ..architecture.lengths import WEIGHT_COUNTS, known_mask_lengths, known_weight_counts
from ..architecture.stage_roles import Role, role_of
from ..models.catalog import CONTROLNETS, IP_ADAPTERS, T2I_ADAPTERS
from ..models.catalog_sdxl import SDXL_IP_ADAPTERS
from ..schedulers import SCHEDULER_NAMES
from .unit_names import unit_label

Kind = Literal["text", "float", "int", "choice", "flag", "mask", "floats"]
Control = Literal["textbox", "slider", "radio", "dropdown", "checkbox", "number"]
# When a PNG's text carries a setting: always, or while the part it belongs to acted.
PngGroup = Literal["always", "img2img", "ip", "ip2", "controlnet", "t2i", "reference_only", "control_map", "canny", "never"]

MAX_SEED = 2**32 - 1
MAX_IP_SCALE = 3.0
NONE = "none"
IP_VARIANTS: tuple[str, ...] = tuple(dict.fromkeys([*IP_ADAPTERS, *SDXL_IP_ADAPTERS]))  # SD 1.5's, then SDXL's vit-h
CONTROLNET_KINDS: tuple[str, ...] = (NONE, *CONTROLNETS)
T2I_KINDS: tuple[str, ...] = (NONE, *T2I_ADAPTERS)
REFERENCE_MODES: tuple[str, ...] = ("off", "attn", "adain", "attn+adain")
FIT_MODES: tuple[str, ...] = ("crop", "pad")
COMBINE_MODES: tuple[str, ...] = ("average", "concat")


@dataclass(frozen=True)
class Setting:
    name: str  # API parameter, UI value key; SettingsError.field
    path: tuple[str | int, ...]  # attributes (and an index) from GenerationSettings down to the value
    kind: Kind
    label: str
    help: str
    control: Control
    flag: str | None = None  # CLI flag; None where another flag sets it (named in ``help``)
    png: str | None = None  # A1111 key of its own; None: in a packed key, the layout, or not written
    png_group: PngGroup = "always"
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    ui_limit: str | None = None  # the Limits field that caps the UI's slider on this server
    ui_low: float | None = None  # where the slider starts when ``low`` itself is refused (strength 0)
    counts: tuple[int, ...] = ()  # "floats": one of these many when given (none: any number, a repeatable flag)

    @property
    def section(self) -> str:
        """The settings object holding it: "" for GenerationSettings, else its attribute name."""
        return str(self.path[0]) if len(self.path) > 1 else ""


@dataclass(frozen=True)
class PackedKey:
    """One A1111 key holding several settings, as ``Size: 512x768`` or ``IP window: 0-0.8``."""

    key: str
    names: tuple[str, ...]
    separator: str
    png_group: PngGroup
    labels: tuple[str, ...] = ()  # "down0=1 down1=0.5 ...": each part labelled


def _window(prefix: str, section: str, what: str, png_group: PngGroup, flag: str) -> tuple[Setting, Setting]:
    common = {"kind": "float", "control": "slider", "png_group": png_group, "low": 0.0, "high": 1.0, "step": 0.05}
    return (
        Setting(f"{prefix}_start", (section, "start"), label=f"{what} start", flag=f"--{flag}-start",
                help=f"Share of the steps done before {what} starts to act (0: from the first step).", **common),  # type: ignore[arg-type]
        Setting(f"{prefix}_end", (section, "end"), label=f"{what} end", flag=f"--{flag}-end",
                help=f"Share of the steps after which {what} stops acting (1: to the last step).", **common),  # type: ignore[arg-type]
    )  # fmt: skip


_PLACE = {"down": "encoder", "mid": "bottleneck", "up": "decoder"}
_ROLE_HELP: dict[Role, str] = {
    "fine": ", finest detail",
    "between": "",
    "composition": ", coarse: composition and layout (InstantStyle)",
    "whole": ", coarsest",
    "style": ", coarse: style, colour and texture (InstantStyle)",
}


def _stage_weight(index: int, name: str) -> Setting:
    architecture = DEFAULT_ARCHITECTURE
    stage = architecture.stage(name)
    where = _PLACE[stage.direction] + _ROLE_HELP[role_of(architecture, stage)]
    size = f"{architecture.feature_side(stage)}² at {architecture.default_size}²"
    return Setting(
        f"ip_stage_{name}", ("ip", "stage_weights", index), "float", label=f"{name} weight",
        help=f"Multiplies λ in the {name} stage ({where}; {size}).",
        control="slider", flag=f"--ip-stage-{name}", png_group="ip", low=0.0, high=MAX_IP_SCALE, step=0.05,
    )  # fmt: skip


SETTINGS: tuple[Setting, ...] = (
    # The prompts are the first lines of a PNG's text, not keys.
    Setting("prompt", ("prompt",), "text", "Prompt", "What the image shows; CLIP reads the first 75 tokens.",
            "textbox", flag="--prompt", png_group="never"),
    Setting("negative_prompt", ("negative_prompt",), "text", "Negative prompt",
            "What the image should not show: the picture is steered away from it.", "textbox", flag="--negative-prompt",
            png_group="never"),
    Setting("ip_scale", ("ip", "scale"), "float", "λ (image prompt weight)",
            "How strongly the reference image steers: 0 ignores it, 1 is the paper's default, above 1 copies more.",
            "slider", flag="--ip-scale", png="IP scale", png_group="ip", low=0.0, high=MAX_IP_SCALE, step=0.05),
    Setting("ip_layers", ("ip", "mask"), "mask", "Layer mask",
            "Which layers get the reference, as the grid above ticks them: one 0 or 1 per attention module, from the "
            f"UNet's input to its output ({known_mask_lengths()}); 1: the reference acts there.",
            "textbox", flag="--ip-layers", png="IP layers", png_group="ip"),
    *(_stage_weight(index, stage) for index, stage in enumerate(STAGE_NAMES)),
    *_window("ip", "ip", "IP-Adapter", "ip", "ip"),
    Setting("ip_variant", ("ip", "variant"), "choice", "Variant",
            "Which IP-Adapter: base (4 image tokens), light (weaker), plus (16 tokens, more detail), "
            "plus-face (16 tokens, faces), full-face (257 tokens, faces).", "dropdown", flag="--ip-variant",
            png="IP-Adapter", png_group="ip",
            choices=IP_VARIANTS),
    Setting("ip_fit", ("ip", "fit"), "choice", "Non-square references",
            "How a non-square reference becomes square for CLIP: crop keeps the centre, pad keeps everything.",
            "radio", flag="--ip-fit", png="IP fit", png_group="ip", choices=FIT_MODES),
    Setting("control_is_map", ("control_is_map",), "flag", "Already a map: edges, depth or pose (skip preprocessing)",
            "Tick when the control image is already an edge, depth or pose map: it is used as it is, not turned into one.", "checkbox",
            png="Control map", png_group="control_map"),
    Setting("canny_low", ("canny_low",), "int", "Canny low",
            "Edges fainter than this are dropped: lower finds more edges (Canny's lower threshold).", "slider", flag="--canny-low",
            png_group="canny", low=0, high=255, step=1),
    Setting("canny_high", ("canny_high",), "int", "Canny high",
            "Edges stronger than this are always kept: lower keeps more edges (Canny's upper threshold).", "slider", flag="--canny-high",
            png_group="canny", low=0, high=255, step=1),
    Setting("controlnet", ("controlnet", "kind"), "choice", "ControlNet",
            "Keep the control image's structure: edges (canny), depth or pose, through a ControlNet.", "radio",
            flag="--controlnet", png="ControlNet", png_group="controlnet", choices=CONTROLNET_KINDS),
    Setting("controlnet_scale", ("controlnet", "scale"), "float", "ControlNet scale",
            "How strictly the structure is kept.", "slider", flag="--controlnet-scale", png="ControlNet scale",
            png_group="controlnet", low=0.0, high=2.0, step=0.05),
    *_window("controlnet", "controlnet", "ControlNet", "controlnet", "controlnet"),
    Setting("guess_mode", ("controlnet", "guess_mode"), "flag", "Guess mode",
            "The ControlNet sees only the prompted half of CFG and guesses the content from the map alone.",
            "checkbox", flag="--guess-mode", png="Guess mode", png_group="controlnet"),
    Setting("controlnet_soft", ("controlnet", "soft"), "flag", "Soft injection (my prompt is more important)",
            "Weaken the ControlNet's shallow blocks: block i of 13 is scaled by 0.825^(12-i), the deepest keeps its "
            "weight (A1111's 'My prompt is more important'; with Guess mode, 'ControlNet is more important').",
            "checkbox", flag="--controlnet-soft", png="ControlNet soft", png_group="controlnet"),
    Setting("t2i", ("t2i", "kind"), "choice", "T2I-Adapter",
            "Keep the structure with a T2I-Adapter: lighter than ControlNet, its features are computed once.",
            "radio", flag="--t2i", png="T2I-Adapter", png_group="t2i", choices=T2I_KINDS),
    Setting("t2i_scale", ("t2i", "scale"), "float", "T2I scale", "How strictly the T2I-Adapter keeps the structure.",
            "slider", flag="--t2i-scale", png="T2I scale", png_group="t2i", low=0.0, high=2.0, step=0.05),
    Setting("t2i_factor", ("t2i", "factor"), "float", "T2I factor (share of steps)",
            "The first steps that get the T2I features (1: all); later steps refine details freely.", "slider",
            flag="--t2i-factor", png="T2I factor", png_group="t2i", low=0.0, high=1.0, step=0.05),
    Setting("t2i_soft", ("t2i", "soft"), "flag", "T2I soft injection (my prompt is more important)",
            "Weaken the T2I-Adapter's shallow features: its four levels are scaled by 0.25, 0.62, 0.825 and 1 "
            "(A1111's 'My prompt is more important' for a T2I-Adapter).",
            "checkbox", flag="--t2i-soft", png="T2I soft", png_group="t2i"),
    Setting("strength", ("strength",), "float", "Denoising strength",
            "img2img: how much of the init image is redone (1: all of it, like no init image).", "slider",
            flag="--strength", png="Denoising strength", png_group="img2img", low=0.0, high=1.0, step=0.05,
            ui_low=0.05),
    Setting("ref_only", ("reference_only", "mode"), "choice", "Reference-only mode",
            "The UNet also attends to a re-noised copy of the first reference (A1111's reference-only): attn, "
            "adain (colour statistics) or both.", "radio", flag="--ref-only", png="Reference-only",
            png_group="reference_only", choices=REFERENCE_MODES),
    Setting("ref_fidelity", ("reference_only", "fidelity"), "float", "Style fidelity",
            "1 follows the reference on both sides of CFG; 0 only on the prompted side.", "slider",
            flag="--ref-fidelity", png="Ref fidelity", png_group="reference_only", low=0.0, high=1.0, step=0.05),
    Setting("ref_weight", ("reference_only", "weight"), "float", "Reference weight",
            "Share of the UNet's layers that read the reference (widest first).", "slider", flag="--ref-weight",
            png="Ref weight", png_group="reference_only", low=0.0, high=1.0, step=0.05),
    *_window("ref", "reference_only", "Reference-only", "reference_only", "ref"),
    Setting("ref_fast", ("reference_only", "fast"), "flag", "Fast: the reference shares the UNet pass",
            "One UNet call a step instead of two: faster, approximate.", "checkbox", flag="--ref-fast",
            png="Ref fast", png_group="reference_only"),
    Setting("steps", ("steps",), "int", "Steps", "Denoising steps: more is slower and usually cleaner.", "slider",
            flag="--steps", png="Steps", low=1, high=1000, step=1, ui_limit="max_steps"),
    Setting("guidance", ("guidance",), "float", "CFG scale",
            "How closely the image follows the prompt (classifier-free guidance; 1 turns it off).", "slider",
            flag="--guidance", png="CFG scale", low=1.0, high=30.0, step=0.5),
    Setting("scheduler", ("scheduler",), "choice", "Sampler", "How the noise is taken away step by step; the names are the ones the AUTOMATIC1111 web UI uses.",
            "dropdown", flag="--scheduler", png="Sampler", choices=SCHEDULER_NAMES),
    Setting("width", ("width",), "int", "Width", "Image width in pixels, a multiple of 8.", "slider",
            flag="--width", low=64, high=8192, step=8, ui_limit="max_side"),
    Setting("height", ("height",), "int", "Height", "Image height in pixels, a multiple of 8.", "slider",
            flag="--height", low=64, high=8192, step=8, ui_limit="max_side"),
    Setting("num_images", ("num_images",), "int", "Images",
            "Images per run; image i uses seed + i, so each can be made again alone.", "slider",
            flag="--num-images", png_group="never", low=1, high=64, step=1, ui_limit="max_images"),
    Setting("seed", ("seed",), "int", "Seed (-1: random)", "The same seed and settings give the same image.",
            "number", flag="--seed", png="Seed", low=0, high=MAX_SEED),
)  # fmt: skip

# --- References, fully (issue 14): per-layer weights, per-reference weights and regions, a second unit ---

_CURVES_HELP = "; ".join(f"{name}: {formula}" for name, formula in CURVE_FORMULAS.items())
SETTINGS += (
    Setting("ip_weights", ("ip", "layer_weights"), "floats", "Per-layer weights",
            "Weights (0–3), one per attention module from the UNet's input to its output, each multiplying λ there "
            f"({known_weight_counts()}: 70 is one per transformer block, for experts); empty: taken from the layer "
            f"mask × stage weights, which these override. Curves over x = module / (modules − 1), execution order: "
            f"{_CURVES_HELP}.",
            "textbox", flag="--ip-weights", png="IP weights", png_group="ip", low=0.0, high=MAX_IP_SCALE,
            counts=WEIGHT_COUNTS),
    Setting("reference_weights", ("ip", "reference_weights"), "floats", "Reference weights",
            "One weight (0–3) per reference image, in their order; empty: 1 each. 0 leaves a reference out. "
            "Averaged: the weighted mean of their encodings; side by side: a reference of weight w counts as "
            "w copies in the shared attention; with region masks: multiplies λ for that reference.",
            "textbox", flag="--reference-weight", png="IP reference weights", png_group="ip", low=0.0,
            high=MAX_IP_SCALE),
    Setting("ip_combine", ("ip", "combine"), "choice", "Several references",
            "average: one encoding, their (weighted) mean; concat: every reference's tokens side by side in "
            "one attention (diffusers' way with a list of images). With region masks each reference attends "
            "on its own instead.", "radio", flag="--combine", png="IP combine", png_group="ip",
            choices=COMBINE_MODES),
    # A second adapter unit: its own variant, references (and masks), λ, layer weights and window.
    Setting("ip2_scale", ("ip2", "scale"), "float", "λ (second adapter)",
            "How strongly the second adapter's references steer; 0 turns the second adapter off.", "slider",
            flag="--ip2-scale", png="IP2 scale", png_group="ip2", low=0.0, high=MAX_IP_SCALE, step=0.05),
    Setting("ip2_variant", ("ip2", "variant"), "choice", "Variant (second adapter)",
            "Which IP-Adapter the second unit uses (see Variant); both may be the same.", "dropdown",
            flag="--ip2-variant", png="IP2-Adapter", png_group="ip2", choices=IP_VARIANTS),
    Setting("ip2_layers", ("ip2", "mask"), "mask", "Layer mask (second adapter)",
            f"Which layers get the second adapter's references: one 0 or 1 per attention module ({known_mask_lengths()}), "
            "as in Layer mask.",
            "textbox", flag="--ip2-layers", png="IP2 layers", png_group="ip2"),
    Setting("ip2_weights", ("ip2", "layer_weights"), "floats", "Per-layer weights (second adapter)",
            f"Weights (0–3) overriding the second adapter's layer mask ({known_weight_counts()}), as in Per-layer "
            "weights; empty: from the mask.",
            "textbox", flag="--ip2-weights", png="IP2 weights", png_group="ip2", low=0.0, high=MAX_IP_SCALE,
            counts=WEIGHT_COUNTS),
    *_window("ip2", "ip2", "Second adapter", "ip2", "ip2"),
)  # fmt: skip

# --- The base model, per request (issue 23): one of the server's models, never a switch for everyone ---

SETTINGS += (
    Setting("base_model", ("base_model",), "text", "Base model",
            "The SD1.5 model this request runs on. In the app: one of the models it was started with, by the "
            "name a PNG's Model says (empty: the first); a PNG loaded back picks its own when the app has it, "
            "for your session only. On the command line: a Hub id, a diffusers folder or a .safetensors "
            "checkpoint (default: $IPA_BASE_MODEL, else SD1.5).",
            "dropdown", flag="--base-model", png="Model"),
)  # fmt: skip

PACKED_KEYS: tuple[PackedKey, ...] = (
    PackedKey("Size", ("width", "height"), "x", "always"),
    PackedKey("IP stages", tuple(f"ip_stage_{stage}" for stage in STAGE_NAMES), " ", "ip", labels=STAGE_NAMES),
    PackedKey("IP window", ("ip_start", "ip_end"), "-", "ip"),
    PackedKey("IP2 window", ("ip2_start", "ip2_end"), "-", "ip2"),
    PackedKey("ControlNet window", ("controlnet_start", "controlnet_end"), "-", "controlnet"),
    PackedKey("Ref window", ("ref_start", "ref_end"), "-", "reference_only"),
    PackedKey("Canny thresholds", ("canny_low", "canny_high"), "-", "canny"),
)

BY_NAME: MappingProxyType[str, Setting] = MappingProxyType({setting.name: setting for setting in SETTINGS})
IMAGE_LABELS = MappingProxyType(
    {
        "reference_images": "Reference image(s)",
        "init_image": "Init image",
        "control_image": "Control image",
        "mask_image": "Inpainting mask",
        "negative_reference": "Negative reference image",
        "reference_masks": "Region masks",
        "ip2_reference_images": "Second adapter's reference image(s)",
        "ip2_masks": "Second adapter's region masks",
    }
)
SWEEP_LABELS = MappingProxyType({"x_axis": "X axis", "y_axis": "Y axis"})  # the Explore tab's own inputs
IMAGE_FLAGS = MappingProxyType(
    {
        "reference_images": "--reference",
        "init_image": "--init-image",
        "control_image": "--control-image",
        "mask_image": "--mask-image",
        "negative_reference": "--negative-reference",
        "reference_masks": "--reference-mask",
        "ip2_reference_images": "--ip2-reference",
        "ip2_masks": "--ip2-mask",
    }
)
IMAGE_PARAMS: tuple[str, ...] = tuple(IMAGE_LABELS)
RANDOM_SEED = -1  # A1111's convention: -1 asks for a fresh random seed


def label_of(name: str) -> str:
    """How the page names a setting or image input (the API name if it is neither)."""
    if name in BY_NAME:
        return BY_NAME[name].label
    return IMAGE_LABELS.get(name) or unit_label(name) or SWEEP_LABELS.get(name, name)


def flag_of(name: str) -> str:
    """How the command line names a setting or image input."""
    setting = BY_NAME.get(name)
    if setting is not None and setting.flag:
        return setting.flag
    return IMAGE_FLAGS.get(name, "--control-map" if name == "control_is_map" else name)


def value_at(settings: object, setting: Setting) -> object:
    value = settings
    for part in setting.path:
        value = value[part] if isinstance(part, int) else getattr(value, part)  # type: ignore[index]
    return value

