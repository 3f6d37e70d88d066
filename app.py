"""Start the web app: ``python app.py [--models DIR] [--host H] [--port P] [--device D] [--dtype T]``.

Every flag has an environment variable (IPA_HOST, IPA_PORT, IPA_MODELS_DIR, IPA_DEVICE, IPA_DTYPE,
IPA_CONCURRENCY, IPA_QUEUE_SIZE, IPA_TORCH_THREADS); flags win, and GRADIO_SERVER_NAME/PORT serve
for host and port when the IPA_ ones are unset. With a models folder the app runs
fully offline: nothing is fetched from the Hub and Gradio sends no analytics.
"""

from __future__ import annotations

# On a ZeroGPU Space, `spaces` must be imported before anything initialises CUDA.
try:
    import spaces  # noqa: F401
except ImportError:
    pass

import argparse
import os
import sys
from collections.abc import Sequence

MODELS_DIR_ENV = "IPA_MODELS_DIR"  # as ipa_demo.sources, read here before anything imports the Hub client
DTYPES = ("auto", "float32", "float16", "bfloat16")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description="ipa_demo web app (Gradio)")
    # Gradio's own variables come second: a Space sets GRADIO_SERVER_NAME=0.0.0.0.
    host = env("IPA_HOST") or env("GRADIO_SERVER_NAME") or "127.0.0.1"
    port = env("IPA_PORT") or env("GRADIO_SERVER_PORT") or "7860"
    parser.add_argument("--host", default=host, help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(port), help="default 7860")
    parser.add_argument("--models", default=env(MODELS_DIR_ENV), help="local models folder (offline); default: the Hub")
    parser.add_argument("--device", default=env("IPA_DEVICE", "auto"), help="auto, cpu, cuda, cuda:1, ...")
    parser.add_argument(
        "--dtype", choices=DTYPES, default=env("IPA_DTYPE", "auto"), help="auto: fp16 on CUDA, else fp32"
    )
    parser.add_argument(
        "--concurrency", type=int, default=int(env("IPA_CONCURRENCY", "1")), help="generations that run at once"
    )
    parser.add_argument(
        "--queue-size", type=int, default=int(env("IPA_QUEUE_SIZE", "16")), help="requests that may wait"
    )
    parser.add_argument(
        "--threads", type=int, default=int(env("IPA_TORCH_THREADS", "0")), help="CPU threads for torch (0: its default)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.models:
        # Read when huggingface_hub and gradio are imported, so set before the imports below.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

    import torch

    from ipa_demo.engine import Engine
    from ipa_demo.models import ModelLoadError
    from ipa_demo.runtime import pick_device, quiet_library_output
    from ipa_demo.settings import SettingsError
    from ipa_demo.sources import MissingModelError, ModelSources
    from ipa_demo.ui import CSS, THEME, create_app

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        device, dtype = pick_device(args.device)
        if args.dtype != "auto":
            dtype = getattr(torch, args.dtype)
        quiet_library_output()
        engine = Engine(ModelSources.from_env(args.models), device, dtype)
    except (SettingsError, MissingModelError, ModelLoadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    demo = create_app(engine, concurrency=args.concurrency, queue_size=args.queue_size)
    demo.launch(server_name=args.host, server_port=args.port, theme=THEME, css=CSS, show_error=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
