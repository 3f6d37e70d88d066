"""Each declared setting's label and hint in Simplified Chinese, by the setting's name.

Keyed by name so that a new setting in ``settings/declarations.py`` without its Chinese fails
``tests/ui/test_translation.py``; the words are the ones Chinese Stable Diffusion users know
(提示词, 反向提示词, 采样步数, 重绘幅度, 随机种子, ...).
"""

from __future__ import annotations

from ..architecture.layers import STAGE_NAMES


def _window(name: str, what: str) -> dict[str, tuple[str, str]]:
    return {
        f"{name}_start": (f"{what}开始", f"{what}开始起作用前已完成的步数比例（0：从第一步起）。"),
        f"{name}_end": (f"{what}结束", f"{what}在完成多少比例的步数后停止起作用（1：直到最后一步）。"),
    }


_STAGE_WEIGHTS = {
    f"ip_stage_{stage}": (f"{stage} 权重", f"在 {stage} 阶段把 λ 乘以这个值。") for stage in STAGE_NAMES
}

SETTINGS_ZH: dict[str, tuple[str, str]] = {
    "prompt": ("提示词", "图片里要有什么；CLIP 只读取前 75 个 token。"),
    "negative_prompt": ("反向提示词", "图片里不要出现什么：画面会避开它。"),
    "ip_scale": (
        "λ（图像提示词权重）",
        "参考图的影响有多强：0 忽略参考图，1 是论文的默认值，大于 1 会更多地照搬参考图。",
    ),
    "ip_layers": (
        "层蒙版",
        "哪些层使用参考图，与上方网格的勾选一致：每个注意力模块一个 0 或 1，从 UNet 的输入到输出"
        "（SD 1.5 上 16 个，SDXL 上 11 个）；1：参考图在该层起作用。",
    ),
    **_STAGE_WEIGHTS,
    **_window("ip", "IP-Adapter "),
    "ip_variant": (
        "模型版本",
        "使用哪种 IP-Adapter：base（4 个图像 token）、light（较弱）、plus（16 个 token，细节更多）、"
        "plus-face（16 个 token，人脸）、full-face（257 个 token，人脸）。",
    ),
    "ip_fit": ("非正方形参考图", "非正方形的参考图如何变成正方形交给 CLIP：裁剪保留中心，填充保留全部。"),
    "control_is_map": (
        "已经是预处理图：边缘、深度或姿势（跳过预处理）",
        "控制图已经是边缘、深度或姿势图时勾选：按原样使用，不再生成预处理图。",
    ),
    "canny_low": ("Canny 低阈值", "比这更弱的边缘会被丢弃：值越低，找到的边缘越多（Canny 的低阈值）。"),
    "canny_high": ("Canny 高阈值", "比这更强的边缘总会保留：值越低，保留的边缘越多（Canny 的高阈值）。"),
    "controlnet": ("ControlNet", "通过 ControlNet 保持控制图的结构：边缘（canny）、深度或姿势。"),
    "controlnet_scale": ("ControlNet 权重", "结构保持得有多严格。"),
    **_window("controlnet", "ControlNet "),
    "guess_mode": ("猜测模式", "ControlNet 只作用于带提示词的那一半 CFG，仅凭控制图猜测内容。"),
    "controlnet_soft": (
        "柔和注入（提示词更重要）",
        "减弱 ControlNet 的浅层块：13 个块中第 i 块乘以 0.825^(12-i)，最深的块保持原权重"
        "（A1111 控制模式的“更偏向提示词”；与猜测模式同开时为“更偏向 ControlNet”）。",
    ),
    "t2i": ("T2I-Adapter", "用 T2I-Adapter 保持结构：比 ControlNet 更轻，它的特征只计算一次。"),
    "t2i_scale": ("T2I 权重", "T2I-Adapter 保持结构有多严格。"),
    "t2i_factor": ("T2I 系数（步数比例）", "前多少比例的步数使用 T2I 特征（1：全部）；之后的步数自由细化细节。"),
    "t2i_soft": (
        "T2I 柔和注入（提示词更重要）",
        "减弱 T2I-Adapter 的浅层特征：四个层级分别乘以 0.25、0.62、0.825 和 1"
        "（A1111 对 T2I-Adapter 的“更偏向提示词”）。",
    ),
    "strength": ("重绘幅度", "图生图：初始图重绘多少（1：全部重绘，相当于没有初始图）。"),
    "ref_only": (
        "仅参考（reference-only）模式",
        "UNet 还会参考第一张参考图加噪后的副本（A1111 的 reference-only）：attn、adain（色彩统计）或两者。",
    ),
    "ref_fidelity": ("风格保真度", "1：CFG 的两侧都跟随参考图；0：只有带提示词的一侧跟随。"),
    "ref_weight": ("参考权重", "UNet 中读取参考图的层所占比例（从最宽的层开始）。"),
    **_window("ref", "仅参考"),
    "ref_fast": ("快速：参考图共用一次 UNet 计算", "每步调用一次 UNet 而不是两次：更快，但为近似结果。"),
    "steps": ("采样步数", "去噪的步数：越多越慢，通常也越干净。"),
    "guidance": ("提示词引导系数（CFG）", "图片有多贴近提示词（无分类器引导；1 即关闭）。"),
    "scheduler": ("采样方法", "噪声如何一步步被去除；名称与 AUTOMATIC1111 WebUI 中的相同。"),
    "width": ("宽度", "图片宽度（像素），须为 8 的倍数。"),
    "height": ("高度", "图片高度（像素），须为 8 的倍数。"),
    "num_images": ("生成数量", "每次生成的图片数；第 i 张使用种子 + i，所以每张都能单独重新生成。"),
    "seed": ("随机种子（-1：随机）", "相同的种子和设置会得到相同的图片。"),
    "ip_weights": (
        "逐层权重",
        "权重（0–3），从 UNet 的输入到输出每个注意力模块一个，各自乘以该处的 λ"
        "（SD 1.5 上 16 个，SDXL 上 11 个或 70 个：70 个即每个 Transformer 块一个，供高级用户）；"
        "留空：取自层蒙版 × 阶段权重，填写后会覆盖它们。曲线以 x = 模块序号 / (模块数 − 1) 计算（按执行顺序）："
        "渐强：x²；渐弱：(1 − x)²；中间弱：(2x − 1)²；中间强：1 − (2x − 1)²。",
    ),
    "reference_weights": (
        "参考图权重",
        "每张参考图一个权重（0–3），按参考图顺序；留空：每张为 1。0 表示不用这张参考图。平均：各编码的加权平均；"
        "并列：权重为 w 的参考图在共享注意力中相当于 w 份；有区域蒙版时：乘以该参考图的 λ。",
    ),
    "ip_combine": (
        "多张参考图",
        "平均（average）：一个编码，取它们的（加权）平均；拼接（concat）：每张参考图的 token 在同一个注意力中并列"
        "（diffusers 处理图片列表的方式）。有区域蒙版时，每张参考图各自单独注意。",
    ),
    "ip2_scale": ("λ（第二个适配器）", "第二个适配器的参考图影响有多强；0 关闭第二个适配器。"),
    "ip2_variant": ("模型版本（第二个适配器）", "第二个单元使用哪种 IP-Adapter（见“模型版本”）；两者可以相同。"),
    "ip2_layers": (
        "层蒙版（第二个适配器）",
        "哪些层使用第二个适配器的参考图：每个注意力模块一个 0 或 1"
        "（SD 1.5 上 16 个，SDXL 上 11 个），与“层蒙版”相同。",
    ),
    "ip2_weights": (
        "逐层权重（第二个适配器）",
        "权重（0–3），覆盖第二个适配器的层蒙版（SD 1.5 上 16 个，SDXL 上 11 个或 70 个），"
        "与“逐层权重”相同；留空：取自蒙版。",
    ),
    **_window("ip2", "第二个适配器"),
    "base_model": ("基础模型", "这次请求使用的 SD1.5 模型。"),
}
