"""Keras models as ONNX and LiteRT graphs: write, describe, run and compare with Keras.

Both formats are written by Keras's own `Model.export` (tf2onnx for ONNX, the TensorFlow
Lite converter for LiteRT). ONNX keeps the recurrent loop (an ONNX `Loop`, or the `LSTM`
op where there is no mask); LiteRT runs only built-in ops, so its graphs are unrolled at
a fixed length first (`zoo.models.unrolled`). Every graph is run once on a right-padded
probe batch and compared with Keras before an export is accepted (`max_difference`).
"""

from __future__ import annotations

import importlib.util
import logging
import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zoo.errors import ZooError
from zoo.models.layers import walk_layers

#: the modules each format needs, beyond TensorFlow and Keras (the `export` extra)
PACKAGES: dict[str, tuple[str, ...]] = {
    "onnx": ("onnx", "onnxruntime", "tf2onnx"),
    "litert": ("ai_edge_litert",),
}
#: the file ending of each format's graphs
SUFFIXES: dict[str, str] = {"onnx": ".onnx", "litert": ".tflite"}
#: most absolute difference from Keras's outputs an exported float graph may show
TOLERANCE = 1e-4
#: ONNX ops a recurrent loop can become (named in the export's `method`)
_LOOP_OPS = ("LSTM", "GRU", "RNN", "Loop", "Scan")
_NAMES = {"onnx": "ONNX", "litert": "LiteRT"}


def require(format: str) -> None:
    """Check that the packages a format needs are installed, before any work.

    Args:
        format: `onnx` or `litert` (other formats need nothing more).

    Raises:
        ZooError: a package is missing; the message names the extra to install.
    """
    missing = [name for name in PACKAGES.get(format, ()) if importlib.util.find_spec(name) is None]
    if missing:
        raise ZooError(
            f'{_NAMES[format]} export needs the export extra: pip install "rnn-zoo[export]" '
            f"(missing: {', '.join(missing)})."
        )


def write(model: keras.Model, path: Path, format: str) -> None:
    """Write `model` as one graph with Keras's `Model.export`.

    Args:
        model: the Keras (sub-)model; for LiteRT with every input axis but the batch known
            and its loops unrolled (`zoo.models.unrolled.fixed_copy`).
        path: the file to write (`.onnx` or `.tflite`).
        format: `onnx` or `litert`.

    Raises:
        ZooError: the converter rejects the model (its message, on one line).
    """
    options = {}
    if format == "onnx":  # Keras's ONNX export refuses a model never called (a fresh copy)
        # without a signature; it is the model's own inputs, under their names
        options["input_signature"] = [
            keras.tree.map_structure(
                lambda x: tf.TensorSpec(x.shape, x.dtype, name=x.name), model.input
            )
        ]
    try:
        with warnings.catch_warnings():  # numpy's notice about `np.object` in Keras's tf2onnx shim
            warnings.simplefilter("ignore", FutureWarning)
            model.export(str(path), format=format, verbose=False, **options)
    except Exception as err:  # converters raise anything; the user gets one line
        reason = " ".join(str(err).split())[:300]
        raise ZooError(
            f"{model.name} cannot be exported to {_NAMES[format]}: the converter refused it "
            f"({type(err).__name__}: {reason}); export another format, or report it."
        ) from err


def _loads(path: Path) -> bool:
    """Whether ONNX Runtime loads a graph, asked in a child process: on some quantised
    graphs ONNX Runtime 1.32 aborts the whole process while loading (a failed assertion)."""
    check = "import sys, onnxruntime; onnxruntime.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])"
    return (
        subprocess.run([sys.executable, "-c", check, str(path)], capture_output=True).returncode
        == 0
    )


def quantize_int8(path: Path) -> list[str]:
    """Replace an ONNX graph by its ONNX Runtime dynamic int8 quantisation: weights of
    MatMul, Conv, Gather (embeddings) and LSTM as int8, activations quantised at run time.

    ONNX Runtime 1.32 cannot load some graphs with a quantised Gather beside a `Loop` (the
    SimpleRNN decoders of captioning and translation: it aborts); such a graph is quantised
    again with its Gathers left in float32.

    Args:
        path: an `.onnx` file, rewritten in place.

    Returns:
        The op types left in float32 (empty where every supported op was quantised).

    Raises:
        ZooError: ONNX Runtime cannot load the quantised graph either way.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.registry import IntegerOpsRegistry

    quantized = path.with_name(f"{path.stem}.int8{path.suffix}")
    for kept in ([], ["Gather"]):
        ops = [op for op in IntegerOpsRegistry if op not in kept]
        logging.disable(logging.WARNING)  # its advice to pre-process, on the root logger
        try:
            quantize_dynamic(
                str(path), str(quantized), weight_type=QuantType.QInt8, op_types_to_quantize=ops
            )
        finally:
            logging.disable(logging.NOTSET)
        if _loads(quantized):
            quantized.replace(path)
            return kept
    quantized.unlink()
    raise ZooError(
        f"ONNX Runtime cannot load the int8 quantisation of {path.name}: export it without --quantize."
    )


def _onnx_tensors(values: Any) -> list[dict[str, Any]]:
    """Name, shape (None for an unknown axis) and numpy dtype name of ONNX value infos."""
    from onnx.helper import tensor_dtype_to_np_dtype

    return [
        {
            "name": value.name,
            "shape": [
                d.dim_value if d.HasField("dim_value") else None
                for d in value.type.tensor_type.shape.dim
            ],
            "dtype": np.dtype(tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)).name,
        }
        for value in values
    ]


def _signature_order(name: str) -> tuple[int, str]:
    """LiteRT signature outputs are named `output_<i>` in the model's output order."""
    found = re.fullmatch(r"output_(\d+)", name)
    return (int(found.group(1)) if found else 0, name)


def _litert_tensors(details: dict[str, dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    """Name, shape (None for an axis that may vary) and dtype of LiteRT signature tensors."""
    return [
        {
            "name": name,
            "shape": [None if size < 0 else int(size) for size in details[name]["shape_signature"]],
            "dtype": np.dtype(details[name]["dtype"]).name,
        }
        for name in names
    ]


def _litert_runner(path: Path) -> Any:
    """The `serving_default` signature of a LiteRT file, with the `ai-edge-litert` interpreter."""
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path)).get_signature_runner("serving_default")


def describe(path: Path, model: keras.Model) -> dict[str, list[dict[str, Any]]]:
    """The graph's inputs and outputs as it names and shapes them, in `model`'s order.

    Args:
        path: an `.onnx` or `.tflite` file written from `model`.
        model: the Keras model it was written from (for the order of the inputs).

    Returns:
        `{"inputs": [...], "outputs": [...]}`, each item `{"name", "shape", "dtype"}`.
    """
    if path.suffix == SUFFIXES["onnx"]:
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph
        inputs = {value.name: value for value in graph.input}
        return {
            "inputs": _onnx_tensors([inputs[i.name] for i in model.inputs]),
            "outputs": _onnx_tensors(graph.output),
        }
    runner = _litert_runner(path)
    outputs = sorted(runner.get_output_details(), key=_signature_order)
    return {
        "inputs": _litert_tensors(runner.get_input_details(), [i.name for i in model.inputs]),
        "outputs": _litert_tensors(runner.get_output_details(), outputs),
    }


def run(path: Path, graph: dict[str, Any], inputs: list[np.ndarray]) -> list[np.ndarray]:
    """Run an exported graph: ONNX Runtime for `.onnx`, the LiteRT interpreter for `.tflite`.

    Args:
        path: the graph file.
        graph: its `describe` entry (names of inputs and outputs).
        inputs: one array per input, in the entry's order.

    Returns:
        One array per output, in the entry's order.
    """
    feeds = {spec["name"]: value for spec, value in zip(graph["inputs"], inputs, strict=True)}
    names = [spec["name"] for spec in graph["outputs"]]
    if path.suffix == SUFFIXES["onnx"]:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(names, feeds)
    results = _litert_runner(path)(**feeds)
    return [results[name] for name in names]


def loop_ops(path: Path) -> list[str]:
    """The recurrent ops of an ONNX graph (`LSTM`, `Loop`, ...), for the export's `method`.

    Args:
        path: an `.onnx` file.

    Returns:
        Their names, sorted; empty for a graph without a recurrent loop.
    """
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return sorted({node.op_type for node in graph.node} & set(_LOOP_OPS))


def probe(
    specs: list[dict[str, Any]], model: keras.Model, *, rows: int = 3, seed: int = 0
) -> list[np.ndarray]:
    """A batch for a graph's inputs in which every row has another length: row i of an id
    input is right-padded with i * 2 steps of 0 (at least one step stays).

    Ids are drawn below the smallest `Embedding` of the Keras model, so every input reads
    real rows; uint8 inputs (images) are noise, other floats uniform in [-1, 1).

    Args:
        specs: the graph's inputs as `describe` gives them (unknown axes get 9 steps).
        model: the Keras model the graph was written from.
        rows: the batch size.
        seed: the random seed.

    Returns:
        One array per input, in the order of `specs`.
    """
    rng = np.random.default_rng(seed)
    embeddings = [x.input_dim for x in walk_layers(model) if isinstance(x, keras.layers.Embedding)]
    high = max(3, min(embeddings, default=3))
    arrays = []
    for spec in specs:
        shape = (rows, *(9 if size is None else size for size in spec["shape"][1:]))
        dtype = np.dtype(spec["dtype"])
        if dtype == np.uint8:
            arrays.append(rng.integers(0, 256, shape).astype(dtype))
        elif dtype.kind in "iu":
            ids = rng.integers(2, high, shape).astype(dtype)
            for row in range(1, rows if len(shape) > 1 else 0):
                ids[row, max(1, shape[1] - 2 * row) :] = 0
            arrays.append(ids)
        elif dtype == np.bool_:
            arrays.append(np.ones(shape, bool))
        else:
            arrays.append(rng.uniform(-1, 1, shape).astype(dtype))
    return arrays


def keras_outputs(model: keras.Model, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """`model`'s outputs on `inputs` (inference mode), as a list of numpy arrays.

    Args:
        model: a Keras model or sub-model.
        inputs: one array per input, in the order of `model.inputs`.

    Returns:
        One array per output.
    """
    # in the model's own structure (a dict of named inputs, a list, or one tensor)
    outputs = model(keras.tree.pack_sequence_as(model.input, inputs), training=False)
    return [np.asarray(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def max_difference(expected: list[np.ndarray], got: list[np.ndarray]) -> float:
    """Largest absolute difference between two lists of outputs (booleans as 0/1).

    Args:
        expected: Keras's outputs.
        got: the graph's outputs, in the same order.

    Returns:
        The largest absolute difference over every output; infinity where shapes differ.
    """
    worst = 0.0
    for a, b in zip(expected, got, strict=True):
        if np.shape(a) != np.shape(b):
            return float("inf")
        worst = max(
            worst, float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)), initial=0.0))
        )
    return worst
