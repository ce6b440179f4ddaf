"""`zoo_runtime` end to end: tiny models of every task exported by `zoo export --format
onnx`, predicted by the runtime and by the zoo, compared; the folder checks and their
one-line errors; the command line; no TensorFlow imported; the runtime's own wheel."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import zoo
import zoo_runtime
from zoo.registry.export import export
from zoo_runtime import model as runtime_model

HOSTILE = {
    "many-to-one": ["a great film <br /> really!", "\u200bgood\u00a0movie. " * 1100],
    "many-to-many-equal": ["John lives in Paris", ["U.S.", "NATO", "1999", "McDonald", "é"]],
    "many-to-many-unequal": ["ein hund läuft.", "Zwei <BR> Männer " * 1100],
}


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory, tiny_dataset, tiny_registry_model) -> dict[str, tuple]:
    """Per task: (registry model, its `zoo export --format onnx` folder, raw inputs)."""
    made = {}
    for name in zoo.TASKS:
        root = tmp_path_factory.mktemp("registry")
        model = tiny_registry_model(name, root, embedding_dim=8, cnn_blocks=2, crf=True)
        folder = export(model, root / "export", format="onnx")
        spec = tiny_dataset(name)
        raw = [
            model.task.raw_input(ex)
            for ex in model.task.load(spec, "validation").take(3).as_numpy_iterator()
        ]
        made[name] = (model, folder, raw + HOSTILE.get(name, []))
    return made


@pytest.mark.slow  # about a minute: five tiny models built and exported to ONNX
@pytest.mark.parametrize("name", sorted(zoo.TASKS))
def test_the_runtime_predicts_what_the_task_predicts(name: str, tiny_models, same_results) -> None:
    model, folder, inputs = tiny_models[name]
    task = model.task
    loaded = zoo_runtime.load(folder)
    assert loaded.task == name and loaded.card["name"] == "tiny"
    options = [{}]
    if name == "many-to-one":
        options.append({"top_k": 1})
    if hasattr(task, "target_vocabulary"):
        options = [{"beam_width": 1}, {"beam_width": 3}]
    for option in options:
        with (
            pytest.warns()
            if any(isinstance(i, str) and len(i) > 9000 for i in inputs)
            else _nothing()
        ):
            expected = model.predict_batch(inputs, **option)
        same_results(loaded.predict_batch(inputs, **option), expected, name)
    if name in ("many-to-one", "many-to-many-unequal"):
        assert loaded.predict_batch(inputs[-1:])[0]["truncated"] is True


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_defaults_of_older_preprocessing_files_are_the_zoos() -> None:
    for name, defaults in runtime_model.DEFAULTS.items():
        declared = {f.name: f for f in dataclasses.fields(zoo.TASKS[name].preprocessing_class)}
        for field, value in defaults.items():
            f = declared[field]
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            assert default == value, (name, field)


def test_translation_bounds_are_the_tasks() -> None:
    import tensorflow as tf

    task = zoo.TASKS["many-to-many-unequal"]()
    task.preprocessing = task.preprocessing_class(max_tokens=5)
    ids = tf.constant([[3] * n + [0] * (40 - n) for n in (1, 5, 6, 9, 40)], tf.int32)
    from zoo_runtime.decoding import translation_bounds

    assert (
        translation_bounds(np.asarray([1, 5, 6, 9, 40]), 5).tolist()
        == (task.output_bounds(ids).numpy().tolist())
        == [6, 6, 8, 14, 21]
    )


# the folder's checks ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits(tmp_path_factory, tiny_registry_model) -> tuple[Path, list[str]]:
    """A tiny one-to-one model exported to ONNX once, and its label names."""
    root = tmp_path_factory.mktemp("registry")
    model = tiny_registry_model("one-to-one", root)
    return export(model, root / "digits", format="onnx"), model.task.preprocessing.labels


@pytest.fixture
def folder(digits, tmp_path: Path) -> Path:
    """A copy of `digits`' folder that a test may damage."""
    return Path(shutil.copytree(digits[0], tmp_path / "digits"))


def test_a_folder_predicts_without_tensorflow(folder: Path, digits) -> None:
    probe = (
        "import sys, numpy as np, zoo_runtime; "
        f"m = zoo_runtime.load({str(folder)!r}); "
        "r = m.predict_batch([np.full((5, 3), 200, np.uint8), np.zeros((2, 2))]); "
        "print(r[0]['label'], 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    label, *imported = done.stdout.split()
    assert label in digits[1] and imported == ["False", "False"], done.stderr


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / "preprocessing.json").unlink(), "has no preprocessing.json"),
        (lambda f: (f / "export.json").unlink(), "has no export.json"),
        (lambda f: (f / "model.onnx").write_bytes(b"x"), "model.onnx was altered after export"),
        (lambda f: (f / "card.json").unlink(), "card.json is missing"),
        (lambda f: (f / "export.json").write_text("{"), "export.json cannot be read"),
    ],
)
def test_a_damaged_folder_is_refused_in_one_line(folder: Path, damage, message: str) -> None:
    damage(folder)
    with pytest.raises(zoo_runtime.ExportFolderError, match=message) as caught:
        zoo_runtime.load(folder)
    assert "\n" not in str(caught.value)


def test_a_savedmodel_or_a_missing_runtime_says_what_to_do(folder: Path, monkeypatch) -> None:
    manifest = json.loads((folder / "export.json").read_text())
    (folder / "export.json").write_text(json.dumps({**manifest, "format": "savedmodel"}))
    with pytest.raises(zoo_runtime.ExportFolderError, match="needs TensorFlow"):
        zoo_runtime.load(folder)
    (folder / "export.json").write_text(json.dumps(manifest))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    with pytest.raises(zoo_runtime.MissingDependencyError, match="pip install onnxruntime"):
        zoo_runtime.load(folder)
    # as if not installed, even where another test imported it already
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    (folder / "export.json").write_text(json.dumps({**manifest, "format": "litert"}))
    with pytest.raises(zoo_runtime.MissingDependencyError, match=r"rnn-zoo-runtime\[litert\]"):
        zoo_runtime.load(folder)


def test_bad_inputs_are_refused_in_one_line(folder: Path, tmp_path: Path) -> None:
    model = zoo_runtime.load(folder)
    for bad, message in [
        (tmp_path / "none.png", "image file not found"),
        (np.zeros((2, 2, 2)), "an image must be"),
        (np.zeros((0, 3)), "the image is empty"),
    ]:
        with pytest.raises(zoo_runtime.RuntimeInputError, match=message):
            model.predict_batch([bad])
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(zoo_runtime.RuntimeInputError, match="cannot decode"):
        model.predict_batch([tmp_path / "broken.png"])
    with pytest.raises(zoo_runtime.RuntimeInputError, match="takes no option top_k"):
        model.predict_batch([np.zeros((2, 2))], top_k=2)


def test_the_command_line_prints_one_json_line_per_input(
    folder: Path, digits, tmp_path: Path, capsys
) -> None:
    from PIL import Image

    from zoo_runtime.__main__ import main

    Image.fromarray(np.full((4, 4), 255, np.uint8)).save(tmp_path / "white.png")
    assert main([str(folder), str(tmp_path / "white.png")]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["input"] == str(tmp_path / "white.png") and line["output"]["label"] in digits[1]
    assert main([str(folder), str(tmp_path / "missing.png")]) == 2
    assert capsys.readouterr().err.startswith("error: image file not found")
    assert main([str(tmp_path / "nowhere"), "x"]) == 2


@pytest.mark.slow  # a few minutes: a wheel, a fresh venv and its dependencies from the index
def test_the_runtime_wheel_installs_alone_and_predicts(folder: Path, tmp_path: Path) -> None:
    import shutil

    # built from a copy: setuptools writes build/ and *.egg-info beside the sources
    source = tmp_path / "source"
    shutil.copytree(
        Path(__file__).resolve().parent.parent / "zoo" / "runtime",
        source,
        ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"),
    )
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("rnn_zoo_runtime-*.whl")
    import zipfile

    packages = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {p for p in packages if not p.endswith(".dist-info")} == {"zoo_runtime"}
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, timeout=900)
    probe = (
        "import sys, numpy as np, zoo_runtime; "
        f"m = zoo_runtime.load({str(folder)!r}); "
        "r = m.predict_batch([np.full((5, 3), 200, np.uint8)]); "
        "print(r[0]['label'], 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    done = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.stdout.split()[1:] == ["False", "False"], done.stderr
    expected = zoo_runtime.load(folder).predict_batch([np.full((5, 3), 200, np.uint8)])[0]["label"]
    assert done.stdout.split()[0] == expected
    done = subprocess.run(
        [str(python), "-c", "import tensorflow"], capture_output=True, timeout=300
    )
    assert done.returncode != 0  # the wheel pulled in no TensorFlow
