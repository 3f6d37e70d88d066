"""Start the web app: ``python app.py [--models DIR] [--host H] [--port P] [--device D] [--dtype T]``.

Every flag has an environment variable (IPA_HOST, IPA_PORT, IPA_MODELS_DIR, IPA_BASE_MODEL, IPA_KEEP_BASE_MODELS, IPA_VAE,
IPA_IP_CHECKPOINT, IPA_LORAS, IPA_DEVICE, IPA_DTYPE, IPA_OFFLOAD, IPA_CONCURRENCY, IPA_QUEUE_SIZE,
IPA_TORCH_THREADS, IPA_API_AUTH, IPA_NO_SDAPI); flags win, and GRADIO_SERVER_NAME/PORT serve for host and port when the IPA_ ones are unset. With a models
folder the app runs fully offline: nothing is fetched from the Hub and Gradio sends no analytics. What the server
accepts (sizes, steps, uploads: IPA_MAX_*) is described in SECURITY.md.
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


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    from ipa_demo.ip_adapter.user_checkpoint import add_ip_checkpoint_argument
    from ipa_demo.models.catalog import add_depth_model_argument
    from ipa_demo.models.user_flags import add_base_model_arguments, add_lora_arguments

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
        "--offload",
        action="store_true",
        default=env("IPA_OFFLOAD", "").lower() in ("1", "true"),
        help="keep models in CPU memory and move each to the GPU while it runs (less GPU memory, slower)",
    )
    add_depth_model_argument(parser)
    add_base_model_arguments(parser)
    parser.add_argument(
        "--keep-base-models", type=positive, default=env("IPA_KEEP_BASE_MODELS", "2"),
        help="base models kept loaded at once; a request for another loads it and lets the least recently used go",
    )  # fmt: skip
    add_ip_checkpoint_argument(parser)
    add_lora_arguments(parser, with_scales=False)
    parser.add_argument(
        "--concurrency", type=positive, default=env("IPA_CONCURRENCY", "1"), help="generations that run at once"
    )
    parser.add_argument(
        "--queue-size",
        type=positive,
        default=env("IPA_QUEUE_SIZE", "16"),
        help="requests that may wait; more are refused with 'queue is full'",
    )
    parser.add_argument(
        "--api-auth",
        default=None,
        help="user:password[,user2:password2]: HTTP Basic protection of the A1111 API (/sdapi, /controlnet); "
        "default IPA_API_AUTH, else open",
    )
    parser.add_argument(
        "--no-sdapi",
        action="store_true",
        default=None,
        help="do not serve the A1111 API (/sdapi/v1, /controlnet); default: IPA_NO_SDAPI, else served",
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
    from ipa_demo.errors import CheckpointError, MissingModelError
    from ipa_demo.images import max_pixels
    from ipa_demo.models.loading import ModelLoadError
    from ipa_demo.models.sources import ModelSources
    from ipa_demo.runtime import pick_device, quiet_library_output
    from ipa_demo.sdapi.options import ApiOptions
    from ipa_demo.settings import Limits, SettingsError
    from ipa_demo.ui.app import create_app, launch_options
    from ipa_demo.zerogpu import on_zero_gpu

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        options, limits = launch_options(host=args.host), Limits.from_env()
        api = ApiOptions.from_env(auth=args.api_auth, disabled=args.no_sdapi)
        max_pixels()  # read on each upload: a typo should stop the start, not fail every request
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:  # int() of an IPA_MAX_* variable
        print(f"error: the IPA_MAX_* variables take whole numbers ({error})", file=sys.stderr)
        return 2
    try:
        device, dtype = pick_device(args.device)
        if args.dtype != "auto":
            dtype = getattr(torch, args.dtype)
        quiet_library_output()
        engine = Engine(
            ModelSources.from_env(args.models),
            device,
            dtype,
            offload=args.offload,
            depth_model=args.depth_model,
            base_model=args.base_model[0] if args.base_model else None,
            base_model_options=args.base_model[1:],
            keep_base_models=args.keep_base_models,
            vae=args.vae,
            ip_checkpoint=args.ip_checkpoint,
            loras=args.lora,
        )
        if on_zero_gpu():  # ZeroGPU wants every model loaded at start-up, not inside a GPU task
            engine.preload()
    except (SettingsError, MissingModelError, ModelLoadError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    demo = create_app(engine, limits=limits, concurrency=args.concurrency, queue_size=args.queue_size, api=api)
    demo.launch(server_name=args.host, server_port=args.port, **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
