"""``python -m ipa_demo evaluate``: the Compare tab's methods over a whole data set, scored with CLIP.

``datasets`` reads the items, ``job`` runs one item (the same class is a Ray actor or a plain
object), ``metrics`` scores outputs, ``results`` keeps the rows (Parquet, resumable), ``summary`` /
``plot`` / ``report`` present them, ``runner`` drives one process or a Ray cluster (``ray_pool``).
Nothing here is imported by the app; pyarrow, pandas and Ray are imported only when the command runs.
"""
