"""Explore: sweep grids over any setting, the layer atlas, response plots and difference maps."""
