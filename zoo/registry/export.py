"""Export a registry model for other runtimes: TensorFlow Serving, ONNX Runtime, LiteRT.

An exported folder (`/work/contract-29.md`, the interface `zoo_runtime` reads) holds the
graph(s), `export.json` (the manifest: every graph's input and output names, shapes and
dtypes as the graph has them, how the recurrent loop was exported, the decoding ids of
generators, a CRF tagger's transitions, and the SHA-256 of every file), verbatim copies
of the version's `preprocessing.json` and `card.json`, and a short `README.md`.

- `savedmodel`: `savedmodel/`, whose `serving_default` signature is the task's serving
  function: raw inputs in (strings, padded token lists or uint8 images), readable outputs
  out, so a server needs neither the zoo nor Python preprocessing. Under JAX the model part
  is converted by `jax2tf`; the SavedModel is the same TensorFlow artefact either way.
- `onnx`: Keras's `Model.export(format="onnx")` (tf2onnx) of the model, or of its
  `encoder` and one-step `decoder` sub-models for the tasks that generate; any length.
- `litert`: the same graphs, built at a fixed length with the loops unrolled
  (`zoo.models.unrolled`), since LiteRT's built-in ops hold no loop of unknown length.

Every ONNX and LiteRT graph is run once and compared with Keras before the folder appears;
the folder is written beside its destination and moved into place when complete.
"""

from __future__ import annotations

import datetime
import inspect
import json
import shutil
import tempfile
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import keras

from zoo.constants import EXPORT_FORMATS as FORMATS
from zoo.constants import QUANTIZATIONS
from zoo.data import text
from zoo.errors import ZooError
from zoo.models import compiled
from zoo.models.custom_layers import LinearChainCRF
from zoo.models.layers import walk_layers
from zoo.models.unrolled import fixed_copy
from zoo.registry import graphs
from zoo.registry.layout import CARD_FILE, PREPROCESSING_FILE, README_FILE, sha256
from zoo.registry.store import ZooModel
from zoo.tasks.base import EncoderDecoderTask

#: the manifest of an exported folder
MANIFEST_FILE = "export.json"
#: the SavedModel's folder inside an exported folder
SAVEDMODEL_FOLDER = "savedmodel"


def _checked_destination(directory: Path) -> None:
    """Refuse a destination that exists or lies under a file, before any work."""
    if directory.exists():
        raise ZooError(
            f"{directory} already exists: choose a new folder, an export never overwrites."
        )
    parent = next((p for p in directory.parents if p.exists()), Path("."))
    if not parent.is_dir():
        raise ZooError(
            f"cannot export into {directory}: {parent} is a file, not a folder; choose another --output."
        )


def _tensor_specs(specs: Any) -> list[dict[str, Any]]:
    """Name, shape and dtype of TensorFlow specs, as `export.json` lists them."""
    return [
        {"name": name, "shape": spec.shape.as_list(), "dtype": spec.dtype.name}
        for name, spec in specs
    ]


def _write_savedmodel(model: ZooModel, folder: Path) -> tuple[dict[str, Any], str, None]:
    """The task's serving function as a SavedModel in `folder / SAVEDMODEL_FOLDER`."""
    serve = model.task.serving_function(model.model)
    archive = keras.export.ExportArchive()
    # the model's weights: the model itself under TensorFlow, under JAX the `tf.Variable`
    # copies its jax2tf-converted calls read (`zoo.models.compiled.graph_call`)
    for resource in compiled.export_resources(model.model):
        archive.track(resource)
    archive.add_endpoint("serving_default", serve)
    # the vocabularies the signature looks words up in
    for table in model.task.preprocessing.resources():
        archive.track(table)
    archive.write_out(str(folder / SAVEDMODEL_FOLDER), verbose=False)
    outputs = serve.get_concrete_function().structured_outputs
    graph = {
        "file": SAVEDMODEL_FOLDER,
        "inputs": _tensor_specs((spec.name, spec) for spec in serve.input_signature),
        "outputs": _tensor_specs((name, outputs[name]) for name in sorted(outputs)),
    }
    method = (
        "TensorFlow SavedModel; signature serving_default = the task's serving function "
        "(raw inputs in, readable outputs out), recurrent loop as tf.while_loop, any length"
    )
    return {"model": graph}, method, None


def _parts(model: ZooModel) -> dict[str, keras.Model]:
    """The Keras models exported as graphs: the model, or a generator's encoder and decoder."""
    if isinstance(model.task, EncoderDecoderTask):
        return {name: model.model.get_layer(name) for name in ("encoder", "decoder")}
    return {"model": model.model}


def _graph_models(model: ZooModel, format: str) -> tuple[dict[str, keras.Model], int | None]:
    """The Keras models to convert, and the fixed length (LiteRT).

    ONNX takes the model (or encoder) as it is, of any length; LiteRT a copy at the task's
    fixed shapes (`Task.fixed_shapes`) with the loops unrolled. The decoder reads one
    token, and for LiteRT the encoder's outputs at their fixed shapes.
    """
    parts = _parts(model)
    first = next(iter(parts))  # the model, or the encoder
    unroll = format == "litert"
    shapes = model.task.fixed_shapes(parts[first].inputs) if unroll else {}
    converted = {first: fixed_copy(parts[first], shapes, unroll=True) if unroll else parts[first]}
    if "decoder" in parts:
        decoder, encoder = parts["decoder"], converted[first]
        tokens, *states = decoder.inputs
        step = {tokens.name: (1,)}
        if unroll:  # the context the decoder reads, at the encoder's fixed shapes
            step |= {
                s.name: tuple(o.shape[1:]) for s, o in zip(states, encoder.outputs, strict=True)
            }
        converted["decoder"] = fixed_copy(decoder, step, unroll=unroll)
    fixed = next(iter(shapes.values()))[0] if shapes else None
    return converted, fixed


def _write_graphs(
    model: ZooModel, folder: Path, format: str, quantize: str | None
) -> tuple[dict[str, Any], str, int | None]:
    """Each graph of the model in `format`, described (names, shapes, dtypes)."""
    converted, fixed = _graph_models(model, format)
    described, how = {}, []
    for name, graph_model in converted.items():
        path = folder / f"{name}{graphs.SUFFIXES[format]}"
        graphs.write(graph_model, path, format)
        float_ops = graphs.quantize_int8(path) if quantize else []
        described[name] = {"file": path.name, **graphs.describe(path, graph_model)}
        if format == "onnx":
            how.append(
                f"{name}: {', '.join(graphs.loop_ops(path)) or 'no'} recurrent op"
                + (f", int8 but {', '.join(float_ops)} in float32" if float_ops else "")
            )
        else:
            shapes = ", ".join(
                f"{i.name} {'x'.join(map(str, i.shape[1:]))}" for i in graph_model.inputs
            )
            how.append(f"{name}: {shapes}")
    if format == "onnx":
        method = (
            "tf2onnx via keras Model.export, any length"
            + (", ONNX Runtime dynamic int8 quantisation" if quantize else "")
            + " ("
            + "; ".join(how)
            + ")"
        )
    else:
        method = (
            "keras Model.export of a copy at fixed input shapes with unroll=True, LiteRT "
            "built-in ops only (" + "; ".join(how) + ")"
        )
    return described, method, fixed


def parity(model: ZooModel, directory: Path | str) -> dict[str, float]:
    """How far each ONNX or LiteRT graph of an exported folder is from Keras, on a
    right-padded probe batch (`zoo.registry.graphs.probe`); the decoder reads the Keras
    encoder's outputs on the encoder's probe.

    Args:
        model: the registry model the folder was exported from.
        directory: the exported folder (ONNX or LiteRT).

    Returns:
        Graph name -> the largest absolute difference of its outputs from Keras's.
    """
    directory = Path(directory)
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    parts, probes, differences = _parts(model), {}, {}
    for name, graph in manifest["graphs"].items():
        inputs = graphs.probe(graph["inputs"], parts[name])
        if name == "decoder":
            inputs = [inputs[0], *graphs.keras_outputs(parts["encoder"], probes["encoder"])]
        probes[name] = inputs
        differences[name] = graphs.max_difference(
            graphs.keras_outputs(parts[name], inputs),
            graphs.run(directory / graph["file"], graph, inputs),
        )
    return differences


def _check_parity(model: ZooModel, folder: Path) -> None:
    """Refuse graphs whose outputs differ from Keras's by more than the tolerance."""
    for name, difference in parity(model, folder).items():
        if not difference <= graphs.TOLERANCE:
            raise ZooError(
                f"the exported graph {name} of {model.name} gives outputs {difference:.3g} away "
                f"from Keras's (at most {graphs.TOLERANCE:g} allowed), so it is not exported: "
                "export another format, or report it."
            )


def _decoding(model: ZooModel) -> dict[str, Any] | None:
    """A generator's start and end ids, context count and default beam width."""
    task = model.task
    if not isinstance(task, EncoderDecoderTask):
        return None
    vocabulary = getattr(task.preprocessing, task.target_vocabulary)
    decoder = model.model.get_layer("decoder")
    return {
        "start_id": vocabulary.index(text.START) + 2,
        "end_id": vocabulary.index(text.END) + 2,
        # the decoder returns its recurrent states, not the context it only reads
        "context": len(decoder.inputs) - len(decoder.outputs),
        "beam_width": inspect.signature(task.predict).parameters["beam_width"].default,
    }


def _crf(model: ZooModel) -> dict[str, Any] | None:
    """A CRF tagger's transition scores (the graph outputs its emissions)."""
    crf = next((x for x in walk_layers(model.model) if isinstance(x, LinearChainCRF)), None)
    if crf is None:
        return None
    return {
        name: keras.ops.convert_to_numpy(getattr(crf, name)).tolist()
        for name in ("transitions", "start_transitions", "end_transitions")
    }


def _readme(manifest: dict[str, Any]) -> str:
    """The exported folder's short README: what it holds, its graphs' inputs and outputs,
    and how to run it."""
    lines = [
        f"# {manifest['model']}@{manifest['version']}, exported as {manifest['format']}"
        + (" (int8)" if manifest["quantization"] else ""),
        "",
        f"A {manifest['task']} model of rnn-zoo {manifest['zoo_version']}. `export.json` lists "
        "every graph's inputs and outputs and the SHA-256 of every file; `preprocessing.json` "
        "turns raw inputs into the ids the graphs read (id 0 is padding, 1 unknown, id i >= 2 "
        "is `vocabulary[i - 2]`); `card.json` is the model card.",
        "",
        f"How the recurrent loop was exported: {manifest['method']}.",
    ]
    if manifest["fixed_length"]:
        lines += [
            "",
            f"Fixed length: the graphs read exactly {manifest['fixed_length']} steps. Right-pad "
            "shorter inputs with 0; longer inputs are cut to that length (report them as truncated).",
        ]
    if manifest["crf"]:
        lines += [
            "",
            "CRF tagger: the graph outputs per-token tag scores (emissions); decode them with "
            "Viterbi over `crf` in `export.json` (transitions from -> to, start and end scores).",
        ]
    if manifest["decoding"]:
        decoding = manifest["decoding"]
        lines += [
            "",
            f"Generator: run `encoder` once, then `decoder` one token at a time from id "
            f"{decoding['start_id']} until id {decoding['end_id']}. The decoder's first "
            f"{decoding['context']} state input(s) are context it only reads; the others are "
            "recurrent states it returns updated, in the same order.",
        ]
    for name, graph in manifest["graphs"].items():
        lines += [
            "",
            f"## {name} (`{graph['file']}`)",
            "",
            "| | name | shape | dtype |",
            "|---|---|---|---|",
        ]
        for kind in ("inputs", "outputs"):
            for spec in graph[kind]:
                shape = ", ".join(
                    "batch" if i == 0 else str(d) if d else "any"
                    for i, d in enumerate(spec["shape"])
                )
                lines.append(f"| {kind[:-1]} | `{spec['name']}` | ({shape}) | {spec['dtype']} |")
    lines += ["", "## Running it", ""]
    if manifest["format"] == "savedmodel":
        lines += [
            'With TensorFlow: `tf.saved_model.load("savedmodel").signatures["serving_default"]`,',
            "or TensorFlow Serving with `savedmodel/` as a model version folder.",
        ]
    else:
        lines += [
            "Raw inputs to the output `zoo predict` prints, without TensorFlow:",
            "",
            "```python",
            "import zoo_runtime",
            "",
            'model = zoo_runtime.load(".")',
            "print(model.predict(...))  # one raw input; model.predict_batch([...]) for a list",
            "```",
            "",
        ]
        graph = next(iter(manifest["graphs"].values()))
        feeds = ", ".join(f'"{spec["name"]}": ...' for spec in graph["inputs"])
        if manifest["format"] == "onnx":
            lines += [
                "With plain ONNX Runtime, on ids made as `preprocessing.json` says:",
                "",
                "```python",
                "import onnxruntime",
                "",
                f'session = onnxruntime.InferenceSession("{graph["file"]}")',
                f"outputs = session.run(None, {{{feeds}}})",
                "```",
            ]
        else:
            lines += [
                "With the LiteRT interpreter (`pip install ai-edge-litert`):",
                "",
                "```python",
                "from ai_edge_litert.interpreter import Interpreter",
                "",
                f'runner = Interpreter("{graph["file"]}").get_signature_runner("serving_default")',
                f"outputs = runner(**{{{feeds}}})",
                "```",
            ]
    return "\n".join(lines) + "\n"


def export(
    model: ZooModel,
    directory: Path | str,
    *,
    format: str = "savedmodel",
    quantize: str | None = None,
) -> Path:
    """Write `model` into a new exported folder `directory` (the layout of `export.json`).

    The folder is written beside `directory` (or in the temporary folder) and moved into
    place when complete: a failed export leaves nothing behind.

    Args:
        model: a loaded registry model (`zoo.registry.load`).
        directory: the folder to create.
        format: `savedmodel`, `onnx` or `litert` (`zoo.constants.EXPORT_FORMATS`).
        quantize: None, or `int8` (ONNX only): ONNX Runtime's dynamic int8 quantisation of
            every graph.

    Returns:
        `directory`, as a `Path`.

    Raises:
        ZooError: an unknown format or quantisation, a quantisation of a format other than
            ONNX, a missing package of the `export` extra, `directory` exists already or lies
            under a file, the converter rejects the model, or a graph's outputs differ
            from Keras's by more than `zoo.registry.graphs.TOLERANCE`.
    """
    if format not in FORMATS:
        raise ZooError(f"unknown export format {format!r}; available: {', '.join(FORMATS)}.")
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ZooError(f"unknown quantization {quantize!r}; available: {', '.join(QUANTIZATIONS)}.")
    if quantize and format != "onnx":
        raise ZooError(
            f"--quantize {quantize} quantizes ONNX graphs only: use --format onnx, or drop --quantize."
        )
    graphs.require(format)
    directory = Path(directory)
    _checked_destination(directory)
    if model.path is None:
        raise ZooError(
            f"{model.name} has no registry folder to copy its preprocessing and card from: load it with zoo.load."
        )
    staging = Path(
        tempfile.mkdtemp(
            prefix=".export-", dir=directory.parent if directory.parent.exists() else None
        )
    )
    folder = staging / "export"
    try:
        folder.mkdir()
        if format == "savedmodel":
            described, method, fixed = _write_savedmodel(model, folder)
        else:
            described, method, fixed = _write_graphs(model, folder, format, quantize)
        for name in (PREPROCESSING_FILE, CARD_FILE):
            shutil.copyfile(model.path / name, folder / name)
        manifest = {
            "format": format,
            "quantization": quantize,
            "task": model.task.name,
            "model": model.name,
            "version": model.version,
            "zoo_version": package_version("rnn-zoo"),
            "exported": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "graphs": described,
            "fixed_length": fixed,
            "method": method,
            "decoding": _decoding(model),
            "crf": _crf(model),
        }
        (folder / README_FILE).write_text(_readme(manifest))
        manifest["files"] = {
            path.relative_to(folder).as_posix(): sha256(path)
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        }
        (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        if format != "savedmodel" and not quantize:
            _check_parity(model, folder)
        shutil.move(str(folder), directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory
