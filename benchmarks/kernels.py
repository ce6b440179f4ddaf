"""Which LSTM and GRU kernel runs: cuDNN or the generic loop (GPU readiness, checkable on a
CPU).

Keras' LSTM and GRU first offer every call to the backend's fused implementation
(`backend.lstm`, `backend.gru`), which takes it (cuDNN, on a GPU with eligible settings) or
declines with `NotImplementedError` (then the generic loop runs). `record()` watches that
hand-off, so a benchmark or a test can report the kernel that actually ran instead of
guessing from the settings. On TensorFlow the fused kernels are cuDNN's and take calls on a
GPU only; on JAX the LSTM's is cuDNN's (`jax.experimental.rnn`), while the GRU's is a
`lax.scan` with the input projections computed for all steps at once, which takes unmasked
calls on any device: "fused scan" in the record.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import keras
from keras.src import (
    backend,
)  # the hand-off has no public hook: a benchmark helper only, never the library

from zoo.models.layers import walk_layers

#: the fused kernels `record()` watches, by the Keras layer that offers its calls to them
FUSED = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


@contextlib.contextmanager
def record() -> Iterator[list[str]]:
    """Collect "cuDNN", "fused scan" or "generic" for every LSTM and GRU call made inside
    the block."""
    ran: list[str] = []
    originals = {name: getattr(backend, name) for name in FUSED}

    def watching(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        fused = "fused scan" if name == "gru" and keras.backend.backend() == "jax" else "cuDNN"

        def watched(*args: Any, **kwargs: Any) -> Any:
            try:
                result = original(*args, **kwargs)
            except NotImplementedError:
                ran.append("generic")
                raise
            ran.append(fused)
            return result

        return watched

    for name, original in originals.items():
        setattr(backend, name, watching(name, original))
    try:
        yield ran
    finally:
        for name, original in originals.items():
            setattr(backend, name, original)


def cudnn_eligible(model: keras.Model) -> dict[str, bool]:
    """Per LSTM and GRU layer: do its settings allow the cuDNN kernel (tanh/sigmoid, no
    unroll, a bias, no recurrent dropout; a GRU also `reset_after`, cuDNN's form)? The masks'
    right padding is the pipeline's part."""
    return {
        layer.name: layer.activation.__name__ == "tanh"
        and layer.recurrent_activation.__name__ == "sigmoid"
        and not layer.unroll
        and layer.use_bias
        and not layer.recurrent_dropout
        and getattr(layer, "reset_after", True)
        for layer in walk_layers(model)
        if isinstance(layer, tuple(FUSED.values()))
    }
