"""`zoo serve`: an HTTP prediction server beside the zoo, not inside it.

A thin layer over the same public `load`/`predict_batch` the command line uses (or the
TensorFlow-free runtime's), on Starlette and uvicorn (the optional extra `serve`):
TensorFlow Serving's REST API, micro-batching per model, health checks, a model page.

    from zoo.serving import load_model, run
    from zoo.serving.app import Limits
    run([load_model("sentiment-mr-lstm")], Limits(), port=8080)
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict
from typing import Any

from zoo.errors import ZooError
from zoo.serving.models import ServedModel, load_model

#: the pip command that installs what the server needs
INSTALL = 'pip install "rnn-zoo[serve]"'
#: where `run` hands its settings to the worker processes of `--workers N`
_SETTINGS_VARIABLE = "ZOO_SERVE_SETTINGS"
#: how long a stopping server (SIGTERM, Ctrl-C) waits for the requests in flight, in seconds
GRACE_SECONDS = 30

__all__ = [
    "INSTALL",
    "ServedModel",
    "app_from_environment",
    "load_model",
    "require_server",
    "run",
]


def require_server() -> None:
    """Check that the `serve` extra is installed.

    Raises:
        ZooError: Starlette or uvicorn is missing; the message names the pip command.
    """
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as err:
        raise ZooError(f"zoo serve needs {err.name}: {INSTALL}") from None


def _log_to_stderr() -> None:
    """The request log: one line per request on standard error."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s zoo serve: %(message)s"))
    logger = logging.getLogger("zoo.serve")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def run(
    models: list[ServedModel],
    limits: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    refs: list[str] | None = None,
    registry: str | None = None,
) -> None:
    """Serve `models` until SIGTERM or Ctrl-C, which let the requests in flight finish.

    Args:
        models: the loaded models (their files checked).
        limits: batching and request limits, a `zoo.serving.app.Limits`.
        host: the address to listen on.
        port: the port to listen on.
        workers: processes sharing the port; beyond 1, each loads `refs` itself.
        refs: the references `models` were loaded from (needed for `workers` > 1).
        registry: the registry they were loaded from (for `workers` > 1).
    """
    import uvicorn

    from zoo.serving.app import Server

    _log_to_stderr()
    options = {
        "host": host,
        "port": port,
        "access_log": False,  # the server logs each request itself, with its instances
        "timeout_graceful_shutdown": GRACE_SECONDS,
    }
    if workers == 1:
        uvicorn.run(Server(models, limits).app, **options)
        return
    os.environ[_SETTINGS_VARIABLE] = json.dumps(
        {
            "refs": refs,
            "runtime": models[0].runtime,
            "registry": registry,
            "limits": asdict(limits),
        }
    )
    uvicorn.run("zoo.serving:app_from_environment", factory=True, workers=workers, **options)


def app_from_environment() -> Any:
    """The application of one worker process of `zoo serve --workers N`: its models loaded
    from the settings `run` left in the environment.

    Returns:
        The ASGI application.
    """
    from zoo.serving.app import Limits, Server

    _log_to_stderr()
    settings = json.loads(os.environ[_SETTINGS_VARIABLE])
    models = [
        load_model(ref, runtime=settings["runtime"], registry=settings["registry"])
        for ref in settings["refs"]
    ]
    return Server(models, Limits(**settings["limits"])).app
