"""Models: the catalog of what can load, where it comes from (Hub or folder), loading, the tiny set."""
