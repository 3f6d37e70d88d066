"""The explainer's words in Simplified Chinese, built from the same architecture facts as ``explainer``.

Each function mirrors its English twin in ``explainer``; ``zh_cn`` keys the results by the English ones.
"""

from __future__ import annotations

from ..architecture import Architecture
from ..architecture.layers import DEFAULT_ARCHITECTURE
from ..architecture.stage_roles import places
from . import stage_table
from .stage_table import StageWords

WORDS = StageWords(
    roles={
        "fine": ("细节，{}", "精细细节"),
        "between": ("中等细节，{}", "中等细节"),
        "composition": ("构图：布局、姿势", "**构图**"),
        "whole": ("整体画面", "整体画面"),
        "style": ("风格：色彩、质感", "**风格**"),
    },
    going={"down": "下采样（进入）", "mid": "", "up": "上采样（输出）"},
    header="| 尺寸 | 进入 ↓（编码器） | 输出 ↑（解码器） |",
    back_up="↑ 再放大回去",
    span="（{}）",
    module="{place} · 模块 {index}（{side}×{side}）",
    places={"down": "下采样 {block}", "mid": "中间", "up": "上采样 {block}"},
    shapes={"style": " — 风格", "composition": " — 构图"},
)


SDXL_GRID_HINT = (
    "在 SDXL 上参考图在哪里起作用：它的 11 个注意力模块，每个阶段一行，按画面经过的顺序排列。阶段滑块是 SD 1.5 的："
    "请用“逐层权重”给 SDXL 的模块加权（11 个数字，或每个 Transformer 块一个，共 70 个）。"
)


def stage_title(stage: str, architecture: Architecture = DEFAULT_ARCHITECTURE) -> str:
    return stage_table.stage_title(WORDS, stage, architecture)


def diagram(architecture: Architecture) -> str:
    return stage_table.diagram(WORDS, architecture)


def _stage_at(architecture: Architecture, modules: tuple[int, ...]) -> str:
    stage = architecture.stage(architecture.stages_of(modules)[0])
    side = architecture.feature_side(stage)
    direction = "进入" if stage.direction == "down" else "输出" if stage.direction == "up" else "中间"
    return f"{direction}方向的 {side}×{side} 阶段（{', '.join(architecture.stages_of(modules))}）"


def explainer_text(architecture: Architecture) -> str:
    count = len(architecture.modules)
    style, composition = architecture.style, architecture.composition
    weighing = "滑块给整个阶段加权" if architecture.family == DEFAULT_ARCHITECTURE.family else "“逐层权重”给每个模块（或每个 Transformer 块）加权"
    return f"""\
**IP-Adapter 如何起作用。** IP-Adapter 用 CLIP 图像编码器读取你的参考图，把它变成几个*图像 token*。\
在每一步中，UNet（把噪声逐步变成图片的网络）会在 {count} 个位置读取提示词（它的交叉注意力层，\
L0–L{count - 1}）；IP-Adapter 在每个位置再加一次对图像 token 的读取，强度由 **λ** 决定。\
UNet 在几种尺寸上处理画面：先缩小（左列向下），在最小的尺寸上处理，再放大回去（右列向上）。\
参考图作用在哪些位置，决定了画面从参考图中取什么：InstantStyle（Wang 等，2024）发现，\
{_stage_at(architecture, composition)}主要决定**构图**（布局、姿势），\
{_stage_at(architecture, style)}主要承载**风格**（色彩、质感、笔触）。\
在 {architecture.title} 上，它们是 {places(architecture, composition).replace(" and ", " 和 ")} 和 \
{places(architecture, style).replace(" and ", " 和 ")}。

{diagram(architecture)}
**预设。** *全部*：所有层，与原版 IP-Adapter（Ye 等，2023）相同。*风格*：\
仅 {" 和 ".join(architecture.stages_of(style))}（取参考图的观感，不取布局）；\
*构图*：仅 {" 和 ".join(architecture.stages_of(composition))}（取布局，不取观感）；\
*风格+构图*：两者都用，即 InstantStyle 的选择。*无*：不用任何层。其他工具会给别的层加权\
（例如 ComfyUI 的 SD 1.5“风格迁移”）：自己勾选这些方框来试；{weighing}。

**其他选项。** *IP-Adapter 开始 / 结束*：参考图起作用的那段过程，0 为第一步，1 为最后一步。\
前面的步骤确定布局，后面的步骤确定细节，所以结束 = 0.6 会保留参考图的布局和色彩，\
而让提示词完成细节。*猜测模式*（ControlNet）：ControlNet 只引导带提示词的那一半引导，\
并更信任它较深的层，所以即使提示词为空也会遵循控制图（可试 CFG 3–5）。\
*T2I 系数*：从第一步算起、获得 T2I-Adapter 结构的步数比例；0.5 固定结构而让细节自由。\
*风格保真度*（仅参考）：0 让提示词主导，1 最贴近参考图的观感；0.5 是 A1111 扩展的默认值。
"""


EXPLAINER = explainer_text(DEFAULT_ARCHITECTURE)
