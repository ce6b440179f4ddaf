"""`zoo export --format onnx|litert [--quantize int8]` (issue 29): the exported folder of the
contract (`/work/contract-29.md`), graphs whose raw outputs match Keras on right-padded
batches, and one-line refusals that leave nothing behind.

Fast: one tiny model per task, built by the task harness's recipe, through both formats;
the bad-input cases on the smallest shipped model. Slow: every shipped model, both formats.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import keras
import numpy as np
import pytest

import zoo
import zoo_runtime
from zoo import registry
from zoo.cli import main
from zoo.models.unrolled import fixed_copy
from zoo.registry import graphs
from zoo.registry.export import MANIFEST_FILE, export, parity
from zoo.tasks.base import EncoderDecoderTask

SHIPPED = Path(__file__).resolve().parent.parent / "saved_models"
SHIPPED_NAMES = [n for n in registry.list_models(root=SHIPPED) if not n.startswith("demo-")]
#: a short fixed length, so that the unrolled LiteRT graphs of the tiny models convert fast
SHORT = 6


@pytest.fixture
def tiny_model(tiny_registry_model, monkeypatch: pytest.MonkeyPatch):
    """`tiny_model(task, root, **hparams)`: `tiny_registry_model`'s model with a fixed length
    of `SHORT` steps (the preprocessing's `max_tokens`, NER's `export_length` and
    `max_word_length`)."""

    def made(name: str, root: Path, **hparams) -> registry.ZooModel:
        fields = {f.name for f in dataclasses.fields(zoo.TASKS[name].preprocessing_class)}
        lengths = dict.fromkeys({"max_tokens", "max_word_length"} & fields, SHORT)
        monkeypatch.setattr(zoo.TASKS[name], "export_length", SHORT, raising=False)
        return tiny_registry_model(name, root, lengths, **hparams)

    return made


def check_folder(folder: Path, model: registry.ZooModel, format: str) -> dict:
    """The folder holds what the contract lists, every hash right; returns export.json."""
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    assert manifest["format"] == format and manifest["task"] == model.task.name
    assert (manifest["model"], manifest["version"]) == (model.name, model.version)
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == files - {MANIFEST_FILE}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    for name in ("preprocessing.json", "card.json"):  # verbatim copies
        assert (folder / name).read_bytes() == (model.path / name).read_bytes()
    generator = isinstance(model.task, EncoderDecoderTask)
    assert list(manifest["graphs"]) == (["encoder", "decoder"] if generator else ["model"])
    assert (manifest["decoding"] is not None) == generator
    assert "README.md" in files and manifest["method"]
    return manifest


def test_an_unrolled_copy_gives_what_the_loop_gives_on_right_padded_rows() -> None:
    """Keras 3.15's unrolled loop zeroes a backward layer's outputs by the mask in forward
    order: real steps of a padded row came out as zeros (0.07 off on sentiment-mr-lstm's
    probability). `fixed_copy` keeps the backward outputs, which are zeros at padding anyway."""
    keras.utils.set_random_seed(1)
    ids = keras.Input((None,), dtype="int32", name="ids")
    x = keras.layers.Embedding(20, 4, mask_zero=True, name="embedding")(ids)
    x = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True), name="bi")(x)
    model = keras.Model(ids, keras.layers.Dense(2, name="head")(x))
    batch = np.array([[5, 6, 7, 8, 9], [3, 4, 0, 0, 0], [2, 0, 0, 0, 0]], np.int32)
    copy = fixed_copy(model, {"ids": (5,)}, unroll=True)
    assert copy.inputs[0].shape == (None, 5)
    assert all(
        layer.unroll
        for layer in (copy.get_layer("bi").forward_layer, copy.get_layer("bi").backward_layer)
    )
    np.testing.assert_allclose(copy(batch), model(batch), atol=1e-6)


@pytest.mark.filterwarnings("ignore:No artists with labels found:UserWarning")
# the tagger's character loop makes its LiteRT conversion the slowest (about 25 s), and the
# generators export two graphs each (about 12 s): with the slow tests, as every shipped model
# A GRU carries one state, as a SimpleRNN, but its own ops: a classifier and a generator
# (whose decoder graph takes and returns that state) cover it.
@pytest.mark.parametrize(
    "name, cell",
    [
        pytest.param(
            name,
            cell,
            marks=pytest.mark.slow
            if name in ("many-to-many-equal", "many-to-many-unequal", "one-to-many")
            else (),
        )
        for name, cell in [(name, "lstm") for name in sorted(zoo.TASKS)]
        + [("many-to-one", "gru"), ("many-to-many-unequal", "gru")]
    ],
)
def test_every_task_exports_to_onnx_and_litert_matching_keras(
    name: str, cell: str, tiny_model, tiny_dataset, same_results, tmp_path: Path
) -> None:
    """...and the TensorFlow-free runtime predicts from the folder what `zoo predict` does:
    the same labels, tags and texts, probabilities within 1e-4 (both round to 4 places)."""
    model = tiny_model(name, tmp_path / "registry", cell=cell)
    spec = tiny_dataset(name)
    inputs = [
        model.task.raw_input(ex)
        for ex in model.task.load(spec, "validation").take(4).as_numpy_iterator()
    ]
    expected = model.predict_batch(inputs)
    for format in ("onnx", "litert"):
        folder = export(model, tmp_path / format, format=format)
        manifest = check_folder(folder, model, format)
        differences = parity(model, folder)
        assert max(differences.values()) <= 1e-4, differences
        for part, graph in manifest["graphs"].items():
            assert (folder / graph["file"]).suffix == graphs.SUFFIXES[format]
            keras_part = model.model if part == "model" else model.model.get_layer(part)
            # the runtime feeds by these names, in the Keras model's order
            assert [spec["name"] for spec in graph["inputs"]] == [i.name for i in keras_part.inputs]
            assert len(graph["outputs"]) == len(keras_part.outputs)
        if format == "litert":
            # a loop of unknown length is no LiteRT built-in: a text input is fixed at SHORT steps
            first = next(iter(manifest["graphs"].values()))
            assert all(None not in spec["shape"][1:] for spec in first["inputs"])
            texts = name not in ("one-to-one", "one-to-many")
            assert manifest["fixed_length"] == (SHORT if texts else None)
            assert "unroll=True" in manifest["method"]
        else:
            assert manifest["fixed_length"] is None and "tf2onnx" in manifest["method"]
        if name == "many-to-many-equal":
            crf = model.model.get_layer("tagger")
            assert np.allclose(
                manifest["crf"]["transitions"], keras.ops.convert_to_numpy(crf.transitions)
            )
        if isinstance(model.task, EncoderDecoderTask):
            decoder = manifest["graphs"]["decoder"]
            assert decoder["inputs"][0]["shape"] == [None, 1]  # one token a step
            vocabulary = getattr(model.task.preprocessing, model.task.target_vocabulary)
            assert vocabulary[manifest["decoding"]["start_id"] - 2] == "[start]"
            assert manifest["decoding"]["beam_width"] == 4
        # a fixed length (SHORT here) shorter than the zoo reads (2,000 tokens) cuts texts
        if manifest["fixed_length"] is None:
            same_results(zoo_runtime.load(folder).predict_batch(inputs), expected)


@pytest.mark.slow  # two graphs exported and quantised: about 10 s
def test_int8_quantizes_every_onnx_graph(tiny_model, tmp_path: Path) -> None:
    model = tiny_model("many-to-many-unequal", tmp_path / "registry")
    folder = export(model, tmp_path / "int8", format="onnx", quantize="int8")
    manifest = check_folder(folder, model, "onnx")
    assert manifest["quantization"] == "int8"
    import onnx

    for graph in manifest["graphs"].values():
        ops = {node.op_type for node in onnx.load(str(folder / graph["file"])).graph.node}
        assert ops & {"DynamicQuantizeLinear", "DynamicQuantizeLSTM", "MatMulInteger"}, ops
    # quantised weights move the outputs, but not far on a tiny model
    assert max(parity(model, folder).values()) < 0.05


def refused(capsys: pytest.CaptureFixture, *args: str) -> str:
    """Run `zoo export digits-lstm ARGS`: exit 2 with one line on stderr, which it returns."""
    capsys.readouterr()
    assert main(["export", "digits-lstm", *args, "--registry", str(SHIPPED)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_int8_is_for_onnx_only(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    line = refused(
        capsys, "--format", "litert", "--quantize", "int8", "--output", str(tmp_path / "out")
    )
    assert "--format onnx" in line
    assert not list(tmp_path.iterdir())


def test_a_missing_export_extra_names_the_install(
    capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = graphs.importlib.util.find_spec
    monkeypatch.setattr(
        graphs.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxruntime" else real(name, *a),
    )
    line = refused(capsys, "--format", "onnx", "--output", str(tmp_path / "out"))
    assert 'pip install "rnn-zoo[export]"' in line and "onnxruntime" in line
    assert not list(tmp_path.iterdir())


def test_a_converter_refusal_or_a_graph_off_keras_leaves_nothing(
    capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def reject(self, *args, **kwargs):
        raise NotImplementedError("op Foo is not supported\nsecond line")

    with monkeypatch.context() as patch:
        patch.setattr(keras.Model, "export", reject)
        line = refused(capsys, "--format", "onnx", "--output", str(tmp_path / "out"))
    assert "cannot be exported to ONNX" in line and "op Foo is not supported" in line
    assert not list(tmp_path.iterdir())  # no staging folder, no half-written output

    run = graphs.run
    monkeypatch.setattr(graphs, "run", lambda *args: [o + 0.01 for o in run(*args)])
    line = refused(capsys, "--format", "onnx", "--output", str(tmp_path / "out"))
    assert "away from Keras's" in line and "0.01" in line
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
# the LSTM models (the SimpleRNN ones export through the same code); every shipped model,
# its whole validation split and the runtime are in benchmarks/deploy.py's table. A text
# classifier's LiteRT graph unrolls 300 steps (about a minute to convert): the tiny models
# above cover that path
@pytest.mark.parametrize("name", [n for n in SHIPPED_NAMES if n.endswith("-lstm")])
def test_every_shipped_model_exports_to_onnx_and_litert_matching_keras(
    name: str, tmp_path: Path
) -> None:
    model = registry.load(name, root=SHIPPED)
    formats = ("onnx",) if model.task.name == "many-to-one" else ("onnx", "litert")
    for format in formats:
        folder = export(model, tmp_path / format, format=format)
        manifest = check_folder(folder, model, format)
        assert max(parity(model, folder).values()) <= 1e-4
        if format == "litert" and name.startswith("ner-"):
            assert manifest["fixed_length"] == 128
