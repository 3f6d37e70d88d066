"""Training an IP-Adapter: only the adapter learns, with SD's own noise-prediction loss.

``data`` reads image–caption pairs, ``adapter`` builds the trainable module and writes it in the
official checkpoint layout, ``objective`` turns a batch into a loss, ``loop`` runs it on accelerate,
``samples`` draws a preview grid, ``cli`` holds the flags of ``python -m ipa_demo train``.
"""
