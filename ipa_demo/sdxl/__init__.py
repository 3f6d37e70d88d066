"""SDXL's own piece: its two-encoder text conditioning with the size/crop time ids (``text.py``), which
the engine's one loop reads through ``loop.encode_text`` and hands the UNet as ``added_cond_kwargs``.
"""
