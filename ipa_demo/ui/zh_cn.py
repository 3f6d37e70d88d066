"""The page's Simplified Chinese, keyed by its English text (``translation`` serves it).

``PAGE``: the layout's own words (tabs, buttons, labels, notes); the settings' labels and hints come
from ``zh_cn_settings`` (by setting name) and the explainer from ``explainer_zh``. ``MESSAGES``: the
phrases of a refusal shown beside a button, as patterns, applied in order.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable

from ..architecture import SDXL
from ..architecture.layers import STAGE_NAMES
from ..settings.declarations import SETTINGS
from ..settings.unit_names import UNIT_WORDS
from . import explainer, explainer_zh
from .stage_table import module_label
from .zh_cn_settings import SETTINGS_ZH
from .zh_cn_units import UNIT_KEY_PATTERNS, UNIT_PARTS, UNIT_REASONS

PAGE: dict[str, str] = {
    # intro and tabs
    explainer.INTRO: (
        "## ipa_demo — Stable Diffusion 1.5 + IP-Adapter\n"
        "用提示词**加一张参考图**生成图片。**1.** 输入提示词。**2.** 添加参考图，或选一个示例。"
        "**3.** 点击**生成**。其余都是可选的；每张 PNG 都保存了它的生成设置。"
    ),
    "Running on:": "运行于：",
    "Generate": "生成",
    "Stop": "停止",
    "Compare": "对比",
    "Explore": "探索",
    # Generate tab
    "Images (PNG with settings)": "生成结果（PNG，含设置）",
    "Seed used": "所用种子",
    "Reuse seed": "复用种子",
    "Use as reference": "用作参考图",
    "Use as init image": "用作初始图",
    "Load its settings": "载入它的设置",
    "Before / after: the reference (or init image) against the first output": "前后对比：参考图（或初始图）与第一张结果",
    "Control maps used": "使用的控制图",
    "Parameters (first image)": "生成参数（第一张）",
    # Inpaint tab
    "Inpaint": "局部重绘",
    explainer.INPAINT_INTRO: (
        "**局部重绘**：重画图片的一部分，其余保持不变。上传图片，用白色画笔涂抹要重画的部分，然后点击“局部重绘”。"
        "本页的提示词、参考图和设置与“生成”时一样生效。整张图片按输出尺寸重绘；选“仅蒙版区域”时只取涂抹处周围的部分，"
        "放大重绘后再贴回（即 A1111 的“重绘区域”）。"
    ),
    explainer.INPAINT_EDITOR_LABEL: "要重绘的图片",
    "Mask blur": "蒙版模糊",
    "Softens the painted edge by this many pixels before inpainting (A1111's “Mask blur”).": (
        "重绘前把涂抹区域的边缘柔化这么多像素（即 A1111 的“蒙版模糊”）。"
    ),
    "How much of the painted part is redone (1: all of it, as if from nothing).": "涂抹部分重绘的程度（1：全部重绘，如同从零生成）。",
    "Inpainted (PNG with settings and mask)": "重绘结果（PNG，含设置和蒙版）",
    "Masked content": "蒙版区域内容",
    "What the painted part starts from: the picture (original), a wash of the colours around it "
    "(fill), or noise or grey in place of the picture (latent noise, latent nothing).": (
        "涂抹部分从什么开始：原图、周围颜色的晕染（填充），或以噪声、灰色代替原图。"
    ),
    "fill": "填充",
    "original": "原图",
    "latent noise": "潜空间噪声",
    "latent nothing": "空白潜空间",
    "Inpaint area": "重绘区域",
    "Whole picture": "整张图片",
    "Only masked": "仅蒙版区域",
    "Only masked: the part around the painting is cut out, redone at the output size (more "
    "detail) and put back.": "仅蒙版区域：剪下涂抹处周围的部分，按输出尺寸重绘（细节更多）后贴回。",
    "Only masked padding, pixels": "仅蒙版区域的外扩像素",
    "How much of the picture around the painting “Only masked” takes along, for context.": (
        "“仅蒙版区域”额外带上的涂抹处周围的像素，作为上下文。"
    ),
    # Compare tab
    "One seed, the same prompt and settings as Generate, the first reference image: reference-only, "
    "img2img and IP-Adapter side by side (and IP-Adapter with ControlNet/T2I when a control image is set).": (
        "同一个种子、与“生成”相同的提示词和设置、第一张参考图：把仅参考（reference-only）、图生图和 IP-Adapter "
        "并排比较（设置了控制图时，还有 IP-Adapter 加 ControlNet/T2I）。"
    ),
    "Side by side": "并排比较",
    "Scores and timings": "得分与用时",
    "Grid (PNG)": "拼图（PNG）",
    "Note": "说明",
    # Explore tab
    "X axis": "X 轴",
    "Y axis": "Y 轴",
    "Sweep": "开始扫描",
    "Grid": "拼图",
    "Change against λ = 0": "与 λ = 0 相比的变化",
    "CLIP-I similarity to the reference (higher: closer to it)": "与参考图的 CLIP-I 相似度（越高越接近）",
    "Scores (CLIP-I: similarity to the reference; change: mean per pixel against λ = 0)": (
        "得分（CLIP-I：与参考图的相似度；变化：与 λ = 0 相比每个像素的平均变化）"
    ),
    "Every cell as a PNG with its settings, the grid and sweep.json (zip)": "每一格的 PNG（含设置）、拼图和 sweep.json（zip）",
    'Every cell is one image made with the same settings as Generate (prompt, references, λ, layers, '
    'sampling: the panel beside this one, below it on a phone), changed only along the X axis (and '
    'the Y axis), all on one seed. The change maps show where each image moved from the same '
    'settings with IP-Adapter off (black: not at all, white: the most).': (
        "每一格都是一张用与“生成”相同设置（提示词、参考图、λ、层、采样：即旁边的设置面板，手机上在下方）生成的图片，"
        "只沿 X 轴（和 Y 轴）改变一个设置，全部使用同一个种子。变化图显示每张图与关闭 IP-Adapter 的同样设置相比"
        "变了哪里（黑色：没有变化，白色：变化最大）。"
    ),
    '**Injection maps**: for one image with the same settings, how strongly the image prompt acts in '
    'each stage of the UNet (brighter: more), averaged over the steps, and all stages together over '
    'the image.': (
        "**注入图**：用相同设置生成一张图，显示图像提示词在 UNet 每个阶段作用有多强（越亮越强），对各步取平均，"
        "以及所有阶段合起来在画面上的分布。"
    ),
    "X axis — setting": "X 轴——设置",
    "X axis — values": "X 轴——取值",
    "Y axis — setting": "Y 轴——设置",
    "Y axis — values": "Y 轴——取值",
    "(none)": "（无）",
    "Per-layer weight curve": "逐层权重曲线",
    "Separated by commas: numbers, or names as the setting's own control shows them (Layer preset: all, style, composition); Layer mask also takes each (each layer alone) or leave-one-out.": (
        "用逗号分隔：数字，或设置自身控件上显示的名称（层预设：全部、风格、构图；英文名称也可以）；"
        "层蒙版还可以填 each（每层单独）或 leave-one-out（每次去掉一层）。"
    ),
    'What the sweep runs: the two above as text, with command-line names (NAME=V1,V2,...); you may type it here.': (
        "扫描实际运行的内容：即上面两项写成文本，用命令行名称（名称=值1,值2,...）；也可以直接在这里输入。"
    ),
    "Show injection maps": "显示注入图",
    "Injection maps": "注入图",
    # the controls beside the settings
    "One of the models this app was started with. Your choice, or a PNG you load, changes your requests only.": (
        "本应用启动时载入的模型之一。你的选择或你载入的 PNG 只影响你自己的请求。"
    ),
    "the app's own": "应用默认",
    "a cat, oil painting": "一只猫，油画",
    "Reference image(s) — several are averaged unless set otherwise below": "参考图——多张时默认取平均（可在下方更改）",
    "IP-Adapter": "IP-Adapter",
    "crop": "裁剪",
    "pad": "填充",
    "Layer preset": "层预设",
    "all": "全部",
    "style": "风格",
    "composition": "构图",
    "style+composition": "风格+构图",
    "none": "无",
    "custom": "自定义",
    "How IP-Adapter steers: what the layers do": "IP-Adapter 如何起作用：各层的作用",
    "Where the reference counts: one row per stage of the UNet, in the order the picture passes them. Tick the "
    "layers that get the reference; the slider weighs the whole stage.": (
        "参考图在哪里起作用：UNet 的每个阶段一行，按画面经过的顺序排列。勾选使用参考图的层；滑块给整个阶段加权。"
    ),
    "More reference options: per-layer weights, several references, regions, negative image, second adapter": (
        "更多参考图选项：逐层权重、多张参考图、区域、反向参考图、第二个适配器"
    ),
    "**Per-layer weights**: one number per layer (0–3), multiplying λ; empty: the mask × stage weights.": (
        "**逐层权重**：每层一个数（0–3），乘以 λ；留空：层蒙版 × 阶段权重。"
    ),
    "Curve": "曲线",
    "ease in": "渐强",
    "ease out": "渐弱",
    "weak middle": "中间弱",
    "strong middle": "中间强",
    "From mask and stages": "按蒙版和阶段填入",
    "From the layer preset": "按层预设填入",
    "Per-layer weights grid": "逐层权重表",
    "Clear": "清空",
    "**Several references**": "**多张参考图**",
    "average": "平均",
    "concat": "拼接",
    "1, 0.5, …": "1, 0.5, …",
    "**Regions**: one mask per reference, in their order (white: where it acts). With masks each reference "
    "attends on its own, and its weight above multiplies λ.": (
        "**区域**：每张参考图一个蒙版，按参考图顺序（白色：起作用的地方）。有蒙版时每张参考图各自单独注意，"
        "上面的权重乘以 λ。"
    ),
    "Region masks": "区域蒙版",
    "Draw a mask (paint white where the reference acts)": "画蒙版（在参考图起作用的地方涂白）",
    "Add the drawing as the next mask": "把所画内容添加为下一个蒙版",
    "Negative reference image: the picture is steered away from it": "反向参考图：画面会避开它",
    "**Second adapter**: its own references, variant, λ, layers and window, acting beside the first (λ 0: off). "
    "Its masks, one per reference of it, confine it to regions.": (
        "**第二个适配器**：有自己的参考图、模型版本、λ、层和作用区间，与第一个同时起作用（λ 为 0：关闭）。"
        "它的蒙版（每张参考图一个）把它限制在各个区域内。"
    ),
    "Second adapter's reference image(s)": "第二个适配器的参考图",
    "Second adapter's region masks": "第二个适配器的区域蒙版",
    "Structure: ControlNet / T2I-Adapter": "结构控制：ControlNet / T2I-Adapter",
    "Control image": "控制图",
    "off": "关闭",
    "img2img": "图生图",
    "Init image (img2img when set)": "初始图（设置后即为图生图）",
    "Inpainting mask: paint over what to redo (the init image is the canvas)": "局部重绘蒙版：涂抹要重绘的地方（画布是初始图）",
    "Reference-only": "仅参考（reference-only）",
    "Sampling": "采样",
    "Random seed": "随机种子",
    "Load settings from a PNG": "从 PNG 载入设置",
    "PNG made by this app or A1111": "本应用或 A1111 生成的 PNG",
    "Parameters found": "读取到的参数",
    "Examples (each fills in every setting)": "示例（每个都会填好全部设置）",
}

# Texts Gradio 6.31 shows without translating them (a table's headers, the examples' names): the page's
# script (``translation.CELLS_SCRIPT``) puts these in once Gradio has chosen Chinese.
CELLS: dict[str, str] = {
    "Cat, oil painting (all layers)": "猫，油画（全部层）",
    "Coffee colours on a lighthouse (style)": "灯塔配上咖啡的色彩（风格）",
    "Rocket's layout, new subject (composition)": "火箭的布局，新的主体（构图）",
    "House edges + ControlNet, coffee style": "房子的边缘 + ControlNet，咖啡风格",
    "img2img: the cat in coffee tones": "图生图：咖啡色调的猫",
    "method": "方法",
    "similarity to reference": "与参考图的相似度",
    "seconds": "秒",
    "change vs λ=0": "与 λ=0 的变化",
    "time (s)": "用时（秒）",
    # a toast's title: Gradio 6.31 shows its kind, capitalised, whatever title the server gives
    "Error": "错误",
    "Warning": "警告",
    "Info": "提示",
}

# Gradio's own words that its zh-CN lacks (the image editor's), under Gradio's keys.
GRADIO_ZH: dict[str, str] = {
    "image_editor.add_layer": "添加图层",
    "image_editor.brush": "画笔",
    "image_editor.brush_size": "画笔大小",
    "image_editor.clear_canvas": "清空画布",
    "image_editor.color": "颜色",
    "image_editor.confirm_crop": "确认裁剪",
    "image_editor.crop": "裁剪",
    "image_editor.erase": "橡皮擦",
    "image_editor.eraser_size": "橡皮擦大小",
    "image_editor.fit_to_screen": "适应屏幕",
    "image_editor.layer": "图层",
    "image_editor.layers": "图层",
    "image_editor.pan": "平移",
    "image_editor.paste": "粘贴",
    "image_editor.redo": "重做",
    "image_editor.resize": "调整大小",
    "image_editor.save_changes": "保存更改",
    "image_editor.select_draw_tool": "选择画笔工具开始",
    "image_editor.show_layers": "显示图层",
    "image_editor.upload": "上传",
    "image_editor.upload_image": "上传图片",
    "image_editor.webcam": "摄像头",
    "image_editor.zoom_in": "放大",
    "image_editor.zoom_out": "缩小",
}

PROGRESS_ZH = {"steps": "步"}  # the bar's unit

def _label(english: str) -> str:
    """A control's label inside a reason, as the Chinese page names it (the table is complete when this runs)."""
    return ZH_CN.get(english, english)


# A replacement is a template, or a function of the match where a label inside the reason needs its Chinese.
MESSAGES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\*\*Not started\.\*\*", "**未开始。**"),
        (r"^Not started\.", "未开始。"),
        (r" \(under “([^”]*)”\)", r"（在“\1”中）"),
        (r": must be between (\S+) and (\S+), got (.+)$", r"：须在 \1 到 \2 之间，当前为 \3"),
        (r": at most (\d+) on this server, got (.+)$", r"：本服务器最多 \1，当前为 \2"),
        (r": at most (\d+) characters, got (.+)$", r"：最多 \1 个字符，当前为 \2"),
        (r": must be a multiple of 8, got (.+)$", r"：须为 8 的倍数，当前为 \1"),
        (r": must be a whole number, got (.+)$", r"：须为整数，当前为 \1"),
        (r": must be a number, got (.+)$", r"：须为数字，当前为 \1"),
        (r": must be numbers separated by commas, got (.+)$", r"：须为用逗号分隔的数字，当前为 \1"),
        (r": IP-Adapter needs a reference image \(or set λ to 0\)$", "：IP-Adapter 需要一张参考图（或把 λ 设为 0）"),
        (r": reference-only needs a reference image$", "：仅参考模式需要一张参考图"),
        (r": ControlNet and T2I-Adapter need a control image$", "：ControlNet 和 T2I-Adapter 需要一张控制图"),
        (r": Compare needs a reference image \(it compares ways of using one\)$", "：对比需要一张参考图（它比较使用参考图的几种方式）"),
        (r": Compare does not inpaint: clear the mask$", "：对比不做局部重绘：请清除蒙版"),
        (r": a mask needs an init image to paint on$", "：蒙版需要一张初始图作为画布"),
        (r": ControlNet and T2I-Adapter are both “none”, so the control image would be ignored: choose canny or "
         r"depth for one of them, or remove the image$",
         "：ControlNet 和 T2I-Adapter 都是“无”，控制图不会被使用：为其中一个选择 canny 或 depth，或移除控制图"),
        (r": (\S+) × (\d+) steps leaves no step to run$", r"：\1 × \2 步，没有剩下要运行的步数"),
        (r": IP-Adapter is off \(λ 0, no layer or an empty window\): nothing to map$",
         "：IP-Adapter 已关闭（λ 为 0、没有层或作用区间为空）：没有可显示的注入图"),
        (r" is not an image", "不是图片"),
        (r": must be finite, got (.+)$", r"：须为有限数，当前为 \1"),
        (r": must be one of (.+), got (.+)$", r"：须为 \1 之一，当前为 \2"),
        (r": must be true or false, got (.+)$", r"：须为 true 或 false，当前为 \1"),
        (r": must be a list of numbers, got (.+)$", r"：须为数字列表，当前为 \1"),
        (r": needs (\d+) numbers, got (\d+)$", r"：需要 \1 个数，当前为 \2 个"),
        (r": needs (\d+) numbers on SD 1\.5, (\d+) or (\d+) on SDXL, got (\d+)$",
         r"：SD 1.5 需要 \1 个数，SDXL 需要 \2 或 \3 个，当前为 \4 个"),
        (r": must be one 0 or 1 per attention module \((\d+) on SD 1\.5, (\d+) on SDXL\), got (.+)$",
         r"：须为每个注意力模块一个 0 或 1（SD 1.5 为 \1 个，SDXL 为 \2 个），当前为 \3"),
        (r": must not be before (.+) \(([^()]+)\)$", lambda found: f"：不能早于“{_label(found[1])}”（{found[2]}）"),
        (r": must not be below (.+) \(([^()]+)\)$", lambda found: f"：不能低于“{_label(found[1])}”（{found[2]}）"),
        (r": must be above 0 \(0 would run no denoising step\)$", "：须大于 0（为 0 时不会运行任何去噪步）"),
        (r": needs one weight per reference image \((\d+)\), got (\d+)$", r"：每张参考图需要一个权重（共 \1 张），当前为 \2 个"),
        (r": needs one mask per reference \((\d+)\), got (\d+)$", r"：每张参考图需要一个蒙版（共 \1 张），当前为 \2 个"),
        (r": at most (\d+) units of a kind on this server \(IPA_MAX_UNITS\), got (\d+)$",
         r"：本服务器每种单元最多 \1 个（IPA_MAX_UNITS），当前为 \2 个"),
        (r": at most (\d+) reference images on this server, got (\d+)$", r"：本服务器最多 \1 张参考图，当前为 \2 张"),
        (r": at most (\d+) input images per request on this server, got (\d+)$",
         r"：本服务器每个请求最多 \1 张输入图片，当前为 \2 张"),
        (r": is missing$", "：缺少此项"),
        (r": this IP-Adapter unit needs a reference image$", "：这个 IP-Adapter 单元需要一张参考图"),
        (r": this unit needs a control image or a map$", "：这个单元需要一张控制图（照片或现成的图）"),
        (r": give an image or a map, not both$", "：照片和现成的图只能给一个"),
        (r":? must be 0 to (\d+) pixels, got (.+)$", r"：须为 0 到 \1 像素，当前为 \2"),
        (r":? must be a whole number of pixels, got (.+)$", r"：须为整数像素，当前为 \1"),
        (r"\bMask blur：", "蒙版模糊："),
        (r"nothing is painted yet: paint over the part of the picture to redo", "还没有涂抹：请涂抹图片中要重绘的部分"),
        (r"upload the picture to inpaint first", "请先上传要重绘的图片"),
        (r"\b(IP-Adapter|ControlNet|T2I-Adapter) unit (\d+)", r"\1 单元 \2"),
        *UNIT_KEY_PATTERNS,
        *UNIT_REASONS,
        *((rf"单元 (\d+) {key}\b", rf"单元 \1 {said}") for key, said in (
            ("image", "图像"), ("map", "现成的图"), ("masks", "区域蒙版"), ("mask", "区域蒙版"), ("references", "参考图"),
            ("reference", "参考图"), ("negative", "反向参考图"))),  # a unit's image keys
        (r"Generate an image first\.", "请先生成一张图片。"),
        # the progress bar (``runner.Readout``, ``explore.sweep.progress_label``)
        (r"^Denoising · ", "去噪 · "),
        (r"^Comparing · ", "对比中 · "),
        (r"^Images (\d+)–(\d+) of (\d+), (\d+) cells at once · ", r"第 \1–\2 张（共 \3 张），\4 格同时生成 · "),
        (r"^Image (\d+) of (\d+), cell (.+) · ", r"第 \1 张（共 \2 张），格 \3 · "),
        (r"^Image (\d+) of (\d+), (.+) · ", r"第 \1 张（共 \2 张），\3 · "),
        (r"^Preparing: loading the models this run needs that are not loaded yet \(the first run after start-up "
         r"loads them\)(?: \(loaded: (.*)\))?, then encoding the inputs · ",
         r"准备中：载入这次运行需要但尚未载入的模型（启动后的第一次运行会载入它们；已载入：\1），然后编码输入 · "),
        (r"会载入它们；已载入：）", "会载入它们）"),
        (r" · (\d+)/(\d+) steps · ([\d.]+ s in all)$", r" · \1/\2 步 · \3"),
        (r" s in all$", " 秒（总计）"),
        (r"Draw a mask first: paint white where the reference should act\.", "请先画蒙版：在参考图起作用的地方涂白。"),
        # "Load settings from a PNG": its refusals, and the notes on the models a PNG names (``base_model``)
        (r"^(.+) is not a PNG this app can read\.$", r"\1 不是本应用能读取的 PNG。"),
        (r"^(.+) carries no generation parameters\.$", r"\1 不含生成参数。"),
        (r"^The parameters in (.+?) cannot be used: ", r"\1 中的参数无法使用："),
        (r"^the image was made with (.+), which is not configured here$", r"这张图片是用 \1 生成的，本服务器没有配置它"),
        (r"^base model set to (.+), for your requests only$", r"底模已设为 \1，只影响你自己的请求"),
        (r"^LoRA (.+) is not loaded here$", r"本服务器没有载入 LoRA \1"),
        (r"^LoRA (.+) here has hash (\S+), the image's had (\S+)$", r"这里的 LoRA \1 的哈希为 \2，图片所用的为 \3"),
    )
]


def _settings() -> dict[str, str]:
    table: dict[str, str] = {}
    for setting in SETTINGS:
        if setting.name in SETTINGS_ZH:  # a setting without one fails test_translation
            table[setting.label], table[setting.help] = SETTINGS_ZH[setting.name]
    return table


# Unit forms are numbered; the table covers more than any server shows (``IPA_MAX_UNITS``, default 4).
MOST_UNITS_TRANSLATED = 32


def _units() -> dict[str, str]:
    table: dict[str, str] = {}
    for word in UNIT_WORDS.values():
        table[f"More {word} units"] = f"更多 {word} 单元"
        table[f"Add another {word} unit"] = f"再添加一个 {word} 单元"
        table[f"Remove the last {word} unit"] = f"移除最后一个 {word} 单元"
        for number in range(2, MOST_UNITS_TRANSLATED + 1):
            label, chinese = f"{word} unit {number}", f"{word} 单元 {number}"
            table[f"**{label}**"] = f"**{chinese}**"
            table.update({f"{label}: {part}": f"{chinese}：{said}" for part, said in UNIT_PARTS.items()})
    return table


def _explainer() -> dict[str, str]:
    titles = {explainer.stage_title(stage): explainer_zh.stage_title(stage) for stage in STAGE_NAMES}
    return {explainer.EXPLAINER: explainer_zh.EXPLAINER, **titles, **_sdxl_grid()}


def _sdxl_grid() -> dict[str, str]:
    """SDXL's grid and explainer (shown when the server runs an SDXL model)."""
    labels = {module_label(explainer.WORDS, SDXL, index): module_label(explainer_zh.WORDS, SDXL, index)
              for index in range(len(SDXL.modules))}  # fmt: skip
    titles = {explainer.stage_title(stage, SDXL): explainer_zh.stage_title(stage, SDXL) for stage in SDXL.stage_names}
    texts = {explainer.SDXL_GRID_HINT: explainer_zh.SDXL_GRID_HINT,
             explainer.explainer_text(SDXL): explainer_zh.explainer_text(SDXL)}  # fmt: skip
    return {**texts, **labels, **titles}


# Gradio strips a Markdown's indentation and its ends (inspect.cleandoc) before sending it: so do the keys.
ZH_CN: dict[str, str] = {inspect.cleandoc(english): chinese for english, chinese in {**_settings(), **_explainer(), **_units(), **PAGE}.items()}
