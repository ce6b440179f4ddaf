"""`zoo serve`: registry models (or exported ONNX folders) behind an HTTP API, over the
public load/predict like every other command (`zoo.serving`)."""

from __future__ import annotations

import argparse

from zoo.cli._common import positive_int, registry_option
from zoo.constants import SERVE_RUNTIMES

#: `zoo serve`'s batching and limits by default (README "Serving over HTTP", measured with
#: benchmarks/serve.py)
DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_WAIT_MS = 64, 2
DEFAULT_MAX_BODY, DEFAULT_MAX_INSTANCES, DEFAULT_QUEUE_SIZE = 1 << 20, 256, 1024


def cmd_serve(args: argparse.Namespace) -> None:
    """`zoo serve`: load every model (files checked), then answer HTTP requests until
    SIGTERM or Ctrl-C.

    Args:
        args: the parsed command line.

    Raises:
        ZooError: the `serve` extra is not installed, `--registry` with `--runtime onnx`, a
            model is unknown or fails its hash check, or an exported folder cannot be loaded:
            nothing is served.
    """
    from zoo.errors import ZooError
    from zoo.serving import load_model, require_server, run

    require_server()
    from zoo.serving.app import Limits

    if args.runtime == "onnx" and args.registry:
        raise ZooError("--runtime onnx serves exported folders: drop --registry.")
    models = [load_model(ref, runtime=args.runtime, registry=args.registry) for ref in args.models]
    seen = {}
    for ref, model in zip(args.models, models, strict=True):
        key = (model.name, model.version)
        if key in seen:
            raise ZooError(
                f"{ref} and {seen[key]} are both {model.name}@{model.version}: give it once."
            )
        seen[key] = ref
    limits = Limits(
        max_batch_size=args.max_batch_size,
        max_wait_ms=args.max_wait_ms,
        max_body=args.max_body,
        max_instances=args.max_instances,
        queue_size=args.queue_size,
    )
    run(
        models,
        limits,
        host=args.host,
        port=args.port,
        workers=args.workers,
        refs=args.models,
        registry=args.registry,
    )


def _port(text: str) -> int:
    """An argparse type: a TCP port, 1 to 65535."""
    port = positive_int(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 1 to 65535, got {text!r}")
    return port


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `zoo serve` to the `zoo` parser.

    Args:
        sub: the `zoo` parser's sub-parsers.
    """
    p = sub.add_parser(
        "serve",
        help="serve models over HTTP: TensorFlow Serving's REST API, micro-batching, a model page",
        description="Load each model (every file's SHA-256 checked; a model that fails refuses the start), "
        'then answer POST /v1/models/NAME[/versions/N]:predict with {"instances": [...]} -> '
        '{"predictions": [...]} (each the JSON of `zoo predict`), GET /v1/models/NAME[/metadata], '
        "/healthz, /readyz, /openapi.json, and the model page at /. Concurrent requests to a model are "
        "batched. SIGTERM finishes the requests in flight. Needs the serve extra "
        '(pip install "rnn-zoo[serve]").',
    )
    p.add_argument(
        "models",
        nargs="+",
        metavar="MODEL",
        help="NAME, NAME@VERSION or NAME:ALIAS; with --runtime onnx, a folder of `zoo export --format onnx`",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8080, help="port to listen on (default: 8080)")
    p.add_argument(
        "--max-batch-size",
        type=positive_int,
        default=DEFAULT_MAX_BATCH_SIZE,
        metavar="N",
        help=f"most inputs a model predicts at once; 1 turns batching off (default: {DEFAULT_MAX_BATCH_SIZE})",
    )
    p.add_argument(
        "--max-wait-ms",
        type=positive_int,
        default=DEFAULT_MAX_WAIT_MS,
        metavar="MS",
        help=f"how long a batch's first request waits for others (default: {DEFAULT_MAX_WAIT_MS})",
    )
    p.add_argument(
        "--max-body",
        type=positive_int,
        default=DEFAULT_MAX_BODY,
        metavar="BYTES",
        help=f"largest request body; larger ones get 413 (default: {DEFAULT_MAX_BODY})",
    )
    p.add_argument(
        "--max-instances",
        type=positive_int,
        default=DEFAULT_MAX_INSTANCES,
        metavar="N",
        help=f"most instances in one request; more get 413 (default: {DEFAULT_MAX_INSTANCES})",
    )
    p.add_argument(
        "--queue-size",
        type=positive_int,
        default=DEFAULT_QUEUE_SIZE,
        metavar="N",
        help=f"most requests waiting per model; more get 503 with Retry-After (default: {DEFAULT_QUEUE_SIZE})",
    )
    p.add_argument(
        "--runtime",
        choices=SERVE_RUNTIMES,
        default="zoo",
        help="zoo: registry models through zoo.load (TensorFlow); onnx: exported ONNX folders "
        "through zoo_runtime (default: zoo)",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="processes sharing the port, each with its own copy of the models (default: 1)",
    )
    registry_option(p)
    p.set_defaults(func=cmd_serve)
