"""IP-Adapter: layers and presets, checkpoints, the CLIP image encoder, attention and its conditioner."""
