"""The HTTP application: TensorFlow Serving's REST API over `ServedModel`s, health checks,
the OpenAPI description and the model page, on Starlette.

Every error is JSON, `{"error": "..."}`, with a 4xx code for the client's faults (400 for
malformed JSON or an input the model refuses, naming the instance's index; 404 for an
unknown model or version; 413 for too many instances or a body over the limit), 503 with
`Retry-After` when a model's queue is full, and 500 without a trace for a fault of the
server (logged). Each request is logged in one line: method, path, status, milliseconds,
instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zoo.errors import BadInputError
from zoo.serving import page
from zoo.serving.batching import Batcher, QueueFullError
from zoo.serving.models import ServedModel

log = logging.getLogger("zoo.serve")


@dataclass(frozen=True)
class Limits:
    """How the server batches and what it accepts (`zoo serve`'s options).

    Attributes:
        max_batch_size: the most inputs a model predicts at once (1 turns batching off).
        max_wait_ms: how long a batch's first request waits for others to join it.
        max_body: the largest request body, in bytes (413 beyond).
        max_instances: the most instances in one request (413 beyond).
        queue_size: the most requests waiting per model (503 beyond).
    """

    max_batch_size: int = 64
    max_wait_ms: float = 2.0
    max_body: int = 1 << 20
    max_instances: int = 256
    queue_size: int = 1024


class ApiError(Exception):
    """A request the API refuses: its status code and one-line message.

    Args:
        status: the HTTP status code.
        message: what went wrong, for the client.
        headers: extra response headers (`Retry-After`).
    """

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class _RequestLog:
    """ASGI middleware: one log line per HTTP request (method, path, status, ms, instances);
    a handler reports its instances in `scope["state"]["instances"]`."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [500]
        scope.setdefault("state", {})

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            log.info(
                "%s %s %d %.1f ms %d instances",
                scope["method"],
                scope["path"],
                status[0],
                (time.perf_counter() - started) * 1000,
                scope["state"].get("instances", 0),
            )


class Server:
    """The served models, their batchers and readiness; `app` is the ASGI application.

    Args:
        models: the model versions to serve (a name may come in several versions; a request
            without a version gets the highest).
        limits: batching and request limits.
    """

    def __init__(self, models: list[ServedModel], limits: Limits):
        self.limits = limits
        self.models: dict[str, dict[int, ServedModel]] = {}
        for model in models:
            self.models.setdefault(model.name, {})[model.version] = model
        self.batchers: dict[tuple[str, int], Batcher] = {}
        self.ready = False
        self.app = Starlette(
            routes=[
                Route("/", self.model_page, methods=["GET"]),
                Route("/healthz", self.healthz, methods=["GET"]),
                Route("/readyz", self.readyz, methods=["GET"]),
                Route("/openapi.json", self.openapi, methods=["GET"]),
                Route("/v1/models/{name}:predict", self.predict, methods=["POST"]),
                Route(
                    "/v1/models/{name}/versions/{version}:predict", self.predict, methods=["POST"]
                ),
                Route("/v1/models/{name}", self.status, methods=["GET"]),
                Route("/v1/models/{name}/versions/{version}", self.status, methods=["GET"]),
                Route("/v1/models/{name}/metadata", self.metadata, methods=["GET"]),
                Route(
                    "/v1/models/{name}/versions/{version}/metadata", self.metadata, methods=["GET"]
                ),
                Route(
                    "/v1/models/{name}/versions/{version}/training_curves.png",
                    self.curves,
                    methods=["GET"],
                ),
            ],
            exception_handlers={
                ApiError: self._api_error,
                HTTPException: self._http_error,
                Exception: self._fault,
            },
            lifespan=self._lifespan,
        )
        self.app.add_middleware(_RequestLog)

    # life ---------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        for name, versions in self.models.items():
            for version, model in versions.items():
                batcher = Batcher(
                    model.predict_batch,
                    max_batch_size=self.limits.max_batch_size,
                    max_wait_ms=self.limits.max_wait_ms,
                    queue_size=self.limits.queue_size,
                )
                batcher.start()
                self.batchers[name, version] = batcher
        warming = asyncio.get_running_loop().create_task(self._warm_up())
        try:
            yield
        finally:
            warming.cancel()
            for batcher in self.batchers.values():
                await batcher.stop()

    async def _warm_up(self) -> None:
        """Run each model once alone and once at full batch size, then say ready."""
        for (name, version), batcher in self.batchers.items():
            inputs = self.models[name][version].warmup_inputs()
            full = (inputs * self.limits.max_batch_size)[: self.limits.max_batch_size]
            for batch in (inputs[:1], full):
                await batcher.run_alone(batch)
        self.ready = True
        log.info("ready: %s", ", ".join(f"{n}@{v}" for n, v in self.batchers))

    # errors -------------------------------------------------------------------------------
    async def _api_error(self, request: Request, err: Exception) -> Response:
        assert isinstance(err, ApiError)
        return _error(err.status, err.message, err.headers)

    async def _http_error(self, request: Request, err: Exception) -> Response:
        assert isinstance(err, HTTPException)
        return _error(err.status_code, err.detail, err.headers)

    async def _fault(self, request: Request, err: Exception) -> Response:
        log.exception("fault while answering %s %s", request.method, request.url.path)
        return _error(500, "internal server error (the server's log has the details)")

    # lookups ------------------------------------------------------------------------------
    def _model(self, request: Request) -> ServedModel:
        name = request.path_params["name"]
        versions = self.models.get(name)
        if versions is None:
            served = ", ".join(sorted(self.models))
            raise ApiError(404, f"no model {name!r} is served here (served: {served}).")
        given = request.path_params.get("version")
        if given is None:
            return versions[max(versions)]
        if not given.isdigit() or int(given) not in versions:
            shown = ", ".join(map(str, sorted(versions)))
            raise ApiError(404, f"{name} has no version {given!r} here (served: {shown}).")
        return versions[int(given)]

    # endpoints ----------------------------------------------------------------------------
    async def healthz(self, request: Request) -> Response:
        """`GET /healthz`: 200 while the process answers."""
        return JSONResponse({"status": "alive"})

    async def readyz(self, request: Request) -> Response:
        """`GET /readyz`: 200 once every model is loaded and warmed up, else 503."""
        if self.ready:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "warming up"}, status_code=503)

    async def openapi(self, request: Request) -> Response:
        """`GET /openapi.json`: the OpenAPI description of this API."""
        return JSONResponse(page.openapi(sorted(self.models)))

    async def model_page(self, request: Request) -> Response:
        """`GET /`: the served models, their cards and curves, and a form to try each."""
        return HTMLResponse(page.html([v[max(v)] for v in self.models.values()]))

    async def status(self, request: Request) -> Response:
        """`GET /v1/models/NAME[/versions/N]`: TF Serving's version status."""
        model = self._model(request)
        versions = (
            [model]
            if "version" in request.path_params
            else [self.models[model.name][v] for v in sorted(self.models[model.name])]
        )
        state = "AVAILABLE" if self.ready else "LOADING"
        return JSONResponse(
            {
                "model_version_status": [
                    {
                        "version": str(m.version),
                        "state": state,
                        "status": {"error_code": "OK", "error_message": ""},
                    }
                    for m in versions
                ]
            }
        )

    async def metadata(self, request: Request) -> Response:
        """`GET /v1/models/NAME[/versions/N]/metadata`: the card and what goes in and out."""
        model = self._model(request)
        return JSONResponse(
            {
                "model_spec": {"name": model.name, "version": str(model.version)},
                "metadata": {
                    "task": model.task,
                    "runtime": model.runtime,
                    "input": model.input_description,
                    "output": f"the JSON result of `zoo predict` for a {model.task} model",
                    "card": model.card,
                },
            }
        )

    async def curves(self, request: Request) -> Response:
        """`GET /v1/models/NAME/versions/N/training_curves.png`: the training curves."""
        model = self._model(request)
        if model.curves is None:
            raise ApiError(404, f"{model.name}@{model.version} has no training curves here.")
        return FileResponse(model.curves, media_type="image/png")

    async def predict(self, request: Request) -> Response:
        """`POST /v1/models/NAME[/versions/N]:predict`: `{"instances": [...]}` ->
        `{"predictions": [...]}`, each prediction `zoo predict`'s JSON result."""
        model = self._model(request)
        body = await self._body(request)
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ApiError(400, f"malformed JSON: {err}.") from None
        instances = payload.get("instances") if isinstance(payload, dict) else None
        if not isinstance(instances, list) or not instances:
            raise ApiError(400, 'the body must be {"instances": [...]} with at least one instance.')
        request.scope["state"]["instances"] = len(instances)
        if len(instances) > self.limits.max_instances:
            raise ApiError(
                413,
                f"{len(instances)} instances in one request; at most "
                f"{self.limits.max_instances}: split them into several requests.",
            )
        inputs = []
        for index, instance in enumerate(instances):
            try:
                inputs.append(model.instance_input(instance))
            except BadInputError as err:
                raise ApiError(400, f"instance {index}: {err}") from None
        try:
            results = await self.batchers[model.name, model.version].predict(inputs)
        except QueueFullError:
            raise ApiError(
                503,
                f"{model.name}@{model.version} has {self.limits.queue_size} requests waiting; "
                "try again shortly.",
                {"Retry-After": "1"},
            ) from None
        for index, result in enumerate(results):
            if isinstance(result, Exception):
                raise ApiError(400, f"instance {index}: {result}")
        return JSONResponse({"predictions": results})

    async def _body(self, request: Request) -> bytes:
        """The request's body, refused with 413 past `max_body` bytes (read no further)."""
        limit = self.limits.max_body
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"the body is {declared} bytes; at most {limit} (--max-body).")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise ApiError(413, f"the body is over {limit} bytes (--max-body).")
        return bytes(body)
