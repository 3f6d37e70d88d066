"""SDXL's own pieces: its two-encoder text conditioning with the size/crop time ids (``text.py``), its
IP-Adapter checkpoints and image encoders (``ip_adapter.py``), and a standalone txt2img that proves
them against diffusers (``txt2img.py``)."""
