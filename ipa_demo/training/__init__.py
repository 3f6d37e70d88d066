"""Training an IP-Adapter for SD 1.5 or SDXL: only the adapter learns, with SD's own noise-prediction loss.

``data`` reads image–caption pairs, ``models`` loads the base model, the variant's image encoder and the
adapter, ``adapter`` builds the trainable module and writes it in the official checkpoint layout,
``objective`` turns a batch into a loss, ``loop`` runs it on accelerate, ``samples`` draws a preview
grid, ``cli`` holds the flags of ``python -m ipa_demo train``.
"""
