"""Reference-only: the conditioner, the per-call pass state, and the hooks that act in the UNet."""
