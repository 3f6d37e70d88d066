"""SDXL's own pieces: its two-encoder text conditioning with the size/crop time ids (``text.py``), the
ControlNet call with that added conditioning (``structure.py``), and a standalone txt2img / img2img
from these and the app's IP-Adapter processors that proves them against diffusers (``generate.py``).
"""
