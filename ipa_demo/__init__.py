"""ipa_demo: steer Stable Diffusion 1.5 with a reference image (IP-Adapter and friends)."""

__version__ = "0.1.0"
