"""Which LSTM kernel runs: cuDNN or the generic loop (GPU readiness, checkable on a CPU).

Keras' LSTM first offers every call to the backend's fused implementation, which takes it
(cuDNN, on a GPU with eligible settings) or declines with `NotImplementedError` (then the
generic loop runs). `record()` watches that hand-off, so a benchmark or a test can report
the kernel that actually ran instead of guessing from the settings.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras
from keras.src import (
    backend,
)  # the hand-off has no public hook: a benchmark helper only, never the library

from zoo.models.layers import walk_layers


@contextlib.contextmanager
def record() -> Iterator[list[str]]:
    """Collect "cuDNN" or "generic" for every LSTM call made inside the block."""
    ran: list[str] = []
    original = backend.lstm

    def watched(*args, **kwargs):
        try:
            result = original(*args, **kwargs)
        except NotImplementedError:
            ran.append("generic")
            raise
        ran.append("cuDNN")
        return result

    backend.lstm = watched
    try:
        yield ran
    finally:
        backend.lstm = original


def cudnn_eligible(model: keras.Model) -> dict[str, bool]:
    """Per LSTM layer: do its settings allow the cuDNN kernel (tanh/sigmoid, no unroll, a
    bias, no recurrent dropout)? The masks' right padding is the pipeline's part."""
    return {
        layer.name: layer.activation.__name__ == "tanh"
        and layer.recurrent_activation.__name__ == "sigmoid"
        and not layer.unroll
        and layer.use_bias
        and not layer.recurrent_dropout
        for layer in walk_layers(model)
        if isinstance(layer, keras.layers.LSTM)
    }
