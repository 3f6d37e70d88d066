"""Structure from a control image: the maps, ControlNet and T2I-Adapter as conditioners."""
