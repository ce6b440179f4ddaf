"""rnn-zoo's runtime without TensorFlow: load a folder `zoo export --format onnx|litert`
wrote and predict from raw inputs, with the results `zoo predict` gives.

    import zoo_runtime
    model = zoo_runtime.load("exported/sentiment-mr-lstm")
    model.predict("a great film")  # {"label": "pos", "probability": 0.97}
    model.predict_batch(["a great film", "a dull plot"])  # one result per input

It imports numpy, regex, Pillow, sentencepiece and onnxruntime (or ai-edge-litert), never
TensorFlow or Keras. The zoo itself imports the parts both need from here (decoding, the
text rules, readouts), so the two cannot drift apart.
"""

from __future__ import annotations

from zoo_runtime.errors import (
    ExportFolderError,
    MissingDependencyError,
    RuntimeInputError,
    ZooRuntimeError,
)
from zoo_runtime.model import ExportedModel, load

__version__ = "0.2.0"

__all__ = [
    "ExportFolderError",
    "ExportedModel",
    "MissingDependencyError",
    "RuntimeInputError",
    "ZooRuntimeError",
    "__version__",
    "load",
]
