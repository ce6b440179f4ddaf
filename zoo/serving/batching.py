"""Micro-batching: concurrent requests to one model gathered into padded batches.

Requests wait in a bounded queue. One task per model takes the first waiting request, keeps
gathering until the batch holds `max_batch_size` inputs or `max_wait_ms` has passed, sorts
the inputs by length (so that a batch pads little), and runs the model off the event loop,
in the model's own thread. Each request gets its own results back; an input the model
refuses fails only the request that sent it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from zoo.errors import BadInputError
from zoo_runtime.errors import RuntimeInputError

#: what `predict_batch` raises for an input the model cannot read, in the zoo and the runtime
INPUT_ERRORS = (BadInputError, RuntimeInputError)


def predict_each(predict_batch: Callable[[list[Any]], list[Any]], inputs: list[Any]) -> list[Any]:
    """Results for `inputs` in one batch where every input can be read; otherwise each input
    alone, so that one unreadable input costs only its own result.

    Args:
        predict_batch: a model's `predict_batch` (the zoo's or the runtime's).
        inputs: raw inputs.

    Returns:
        One item per input, in order: its result, or the `BadInputError` /
        `RuntimeInputError` that its prediction raised.
    """
    try:
        return predict_batch(inputs)
    except INPUT_ERRORS:
        pass
    results: list[Any] = []
    for item in inputs:  # only ever on the way to an error: find which input it was
        try:
            results.append(predict_batch([item])[0])
        except INPUT_ERRORS as err:
            results.append(err)
    return results


def length(item: Any) -> int:
    """How long an input is for sorting a batch: characters of a text, tokens of a list,
    0 for an image (all of one size once resized).

    Args:
        item: a raw input.

    Returns:
        Its length.
    """
    return len(item) if isinstance(item, (str, list)) else 0


class QueueFullError(Exception):
    """The model's request queue is full: the client should try again shortly."""


@dataclass
class _Request:
    inputs: list[Any]
    done: asyncio.Future
    results: list[Any] = field(default_factory=list)


class Batcher:
    """Gathers one model's concurrent requests into batches and answers each.

    Args:
        predict_batch: the model's `predict_batch`, run in the batcher's own thread.
        max_batch_size: the most inputs predicted at once (1: every request alone, in order).
        max_wait_ms: how long the first request of a batch waits for others to join it.
        queue_size: the most requests waiting; one more raises `QueueFullError`.
    """

    def __init__(
        self,
        predict_batch: Callable[[list[Any]], list[Any]],
        *,
        max_batch_size: int,
        max_wait_ms: float,
        queue_size: int,
    ):
        self.predict_batch = predict_batch
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000
        self._queue: asyncio.Queue[_Request] = asyncio.Queue(maxsize=queue_size)
        # one thread per model: a model runs one batch at a time, off the event loop
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zoo-model")
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Start gathering batches (in the running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop gathering and free the model's thread (the server answers every request in
        flight before it shuts its application down)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._thread.shutdown(wait=True)

    async def run_alone(self, inputs: list[Any]) -> list[Any]:
        """Predict `inputs` in the model's thread, outside the queue (the warm-up).

        Args:
            inputs: raw inputs.

        Returns:
            `predict_each`'s items.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, predict_each, self.predict_batch, inputs)

    async def predict(self, inputs: Sequence[Any]) -> list[Any]:
        """Queue one request's inputs and wait for their results.

        Args:
            inputs: the request's raw inputs.

        Returns:
            One item per input, in order: its result, or the error its input raised.

        Raises:
            QueueFullError: `queue_size` requests are already waiting.
        """
        request = _Request(list(inputs), asyncio.get_running_loop().create_future())
        try:
            self._queue.put_nowait(request)
        except asyncio.QueueFull:
            raise QueueFullError from None
        return await request.done

    async def _gather(self) -> list[_Request]:
        """The next batch's requests: the first to wait, then those that join it in time."""
        batch = [await self._queue.get()]
        count = len(batch[0].inputs)
        deadline = time.monotonic() + self.max_wait
        while count < self.max_batch_size:
            try:
                if self._queue.empty():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    request = await asyncio.wait_for(self._queue.get(), left)
                else:
                    request = self._queue.get_nowait()
            except TimeoutError:
                break
            batch.append(request)
            count += len(request.inputs)
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            requests = await self._gather()
            # every input of the batch, longest first, in chunks of at most max_batch_size
            order = sorted(
                ((r, i) for r in requests for i in range(len(r.inputs))),
                key=lambda ri: -length(ri[0].inputs[ri[1]]),
            )
            for r in requests:
                r.results = [None] * len(r.inputs)
            try:
                for start in range(0, len(order), self.max_batch_size):
                    chunk = order[start : start + self.max_batch_size]
                    items = await loop.run_in_executor(
                        self._thread,
                        predict_each,
                        self.predict_batch,
                        [r.inputs[i] for r, i in chunk],
                    )
                    for (r, i), item in zip(chunk, items, strict=True):
                        r.results[i] = item
            except Exception as err:  # noqa: BLE001  (a fault of the model: fail its requests, keep serving)
                for r in requests:
                    if not r.done.done():
                        r.done.set_exception(err)
                continue
            for r in requests:
                if not r.done.done():  # a client that went away cancelled its future
                    r.done.set_result(r.results)
