"""One exported graph, run by ONNX Runtime (`.onnx`) or the LiteRT interpreter (`.tflite`),
fed and read by the names `export.json` lists, in the Keras model's order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo_runtime.errors import ExportFolderError, MissingDependencyError

#: what each format needs, and the pip command that installs it
NEEDS = {
    "onnx": ("onnxruntime", 'pip install onnxruntime (or pip install "rnn-zoo-runtime")'),
    "litert": (
        "ai_edge_litert",
        'pip install ai-edge-litert (or pip install "rnn-zoo-runtime[litert]")',
    ),
}


class Graph:
    """A graph of an exported folder.

    Args:
        path: the graph file.
        spec: its entry of `export.json`'s `graphs`: `inputs` and `outputs`, each a list of
            `{"name", "shape", "dtype"}`.
        kind: `onnx` or `litert`.

    Raises:
        MissingDependencyError: the runtime package of `kind` is not installed.
        ExportFolderError: the file cannot be loaded as a graph of that kind.
    """

    def __init__(self, path: Path, spec: dict[str, Any], kind: str):
        self.path = path
        self.inputs: list[dict[str, Any]] = list(spec["inputs"])
        self.outputs: list[dict[str, Any]] = list(spec["outputs"])
        self.kind = kind
        module, install = NEEDS[kind]
        try:
            if kind == "onnx":
                import onnxruntime

                options = onnxruntime.SessionOptions()
                options.log_severity_level = 3
                self._session = onnxruntime.InferenceSession(
                    str(path), options, providers=["CPUExecutionProvider"]
                )
            else:
                from ai_edge_litert.interpreter import Interpreter

                # the graph's one signature (`serving_default`), whose keys export.json names;
                # the runner resizes its inputs to each batch's shape
                self._runner = Interpreter(model_path=str(path)).get_signature_runner()
        except ImportError:
            raise MissingDependencyError(
                f"{path.name} is a {kind} graph and needs the {module} package: {install}"
            ) from None
        except Exception as err:  # each runtime raises its own type for a broken file
            first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
            raise ExportFolderError(
                f"cannot load {path} as a {kind} graph ({first}); export the model again."
            ) from None

    def static_size(self, input_index: int, axis: int) -> int | None:
        """The size an input's axis is fixed to, or None where it takes any size.

        Args:
            input_index: the input's position in `inputs`.
            axis: the axis.

        Returns:
            The fixed size, or None.
        """
        shape = self.inputs[input_index]["shape"]
        size = shape[axis] if axis < len(shape) else None
        return size if isinstance(size, int) and size >= 0 else None

    def __call__(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """Run the graph on one batch.

        Args:
            arrays: one array per input, in `inputs`' order; each is cast to the input's
                dtype, and padded with 0 or cut along axes the graph fixes (other than the
                batch axis) to their size.

        Returns:
            One array per output, in `outputs`' order.
        """
        fitted = [self._fit(i, np.asarray(a)) for i, a in enumerate(arrays)]
        if self.kind == "onnx":
            names = [o["name"] for o in self.outputs]
            feed = {spec["name"]: a for spec, a in zip(self.inputs, fitted, strict=True)}
            return [np.asarray(o) for o in self._session.run(names, feed)]
        batch = fitted[0].shape[0]
        if self.static_size(0, 0) == 1 and batch != 1:  # a graph of one example at a time
            rows = [self._invoke([a[i : i + 1] for a in fitted]) for i in range(batch)]
            return [np.concatenate(parts) for parts in zip(*rows, strict=True)]
        return self._invoke(fitted)

    def _fit(self, index: int, array: np.ndarray) -> np.ndarray:
        array = array.astype(self.inputs[index]["dtype"], copy=False)
        for axis in range(1, array.ndim):
            size = self.static_size(index, axis)
            if size is None or array.shape[axis] == size:
                continue
            if array.shape[axis] > size:
                array = np.take(array, np.arange(size), axis=axis)
            else:
                pad = [(0, 0)] * array.ndim
                pad[axis] = (0, size - array.shape[axis])
                array = np.pad(array, pad)
        return array

    def _invoke(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        feed = {
            spec["name"]: np.ascontiguousarray(array)
            for spec, array in zip(self.inputs, arrays, strict=True)
        }
        results = self._runner(**feed)
        return [np.array(results[o["name"]]) for o in self.outputs]
