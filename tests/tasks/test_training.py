"""Every task trains on its embedded data with both cells and beats chance by a wide margin;
the saved model reloads (safe mode, fresh objects) and reproduces its predictions.

Real training takes minutes, so the training test is marked slow (`.ci/run` runs it); the
default command checks building, one step, the registry round trip and the serving
signature of every task on tiny models (`test_task_harness.py`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo import registry
from zoo.constants import CELLS
from zoo.registry.export import export

# (epochs, headline threshold, chance level): thresholds sit far above chance but below
# what a short run reaches, so a regression in data, model or decoding makes them fail.
SETTINGS = {
    "one-to-one": (6, 0.80, 0.10),  # accuracy over 10 digit classes
    "many-to-one": (8, 0.75, 0.50),  # accuracy over 2 balanced classes
    "many-to-many-equal": (3, 0.80, 0.0),  # entity F1; tagging everything O scores 0
    "many-to-many-unequal": (4, 60.0, 0.0),  # BLEU
    "one-to-many": (5, 10.0, 0.0),  # BLEU-4 against 3 references
}


@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("task", sorted(zoo.all_tasks()))
def test_trains_beats_chance_and_round_trips(task: str, cell: str, tmp_path: Path) -> None:
    epochs, threshold, chance = SETTINGS[task]  # a new task must declare its bar here
    result = zoo.train(task, epochs=epochs, hparams={"cell": cell}, verbose=0)
    metric = result.metrics["validation"][result.task.headline_metric]
    assert metric >= threshold > chance, (
        f"{task}/{cell}: {result.task.headline_metric}={metric:.3f}"
    )
    assert result.hyperparameters["cell"] == cell

    examples = [
        result.task.raw_input(ex)
        for ex in result.task.load("embedded", "test").take(3).as_numpy_iterator()
    ]
    before = result.task.predict(result.model, examples)
    path = registry.save(result)
    ref = f"{path.parent.name}@{path.name}"
    loaded = zoo.load(ref)
    assert loaded.predict_batch(examples) == before
    assert loaded.card.headline_value("validation") == pytest.approx(metric)
    # a fresh process: loading re-runs the reference inputs and compares with the saved outputs
    done = subprocess.run(
        [sys.executable, "-c", "import sys, zoo; zoo.load(sys.argv[1])", ref],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    if cell == "lstm":
        _check_export(loaded, examples, before, tmp_path)


def _check_export(
    loaded: registry.ZooModel, examples: list, predictions: list, tmp_path: Path
) -> None:
    """The SavedModel's serving signature gives what `predict` gives (greedy decoding)."""
    signature = tf.saved_model.load(
        str(export(loaded, tmp_path / "export") / "savedmodel")
    ).signatures["serving_default"]
    if isinstance(examples[0], np.ndarray):
        batch = tf.constant(np.stack(examples))
    elif isinstance(examples[0], list):
        longest = max(map(len, examples))
        batch = tf.constant([tokens + [""] * (longest - len(tokens)) for tokens in examples])
    else:
        batch = tf.constant(examples)
    served = {k: v.numpy() for k, v in signature(batch).items()}
    task = loaded.task.name
    if task in ("one-to-one", "many-to-one"):
        assert [s.decode() for s in served["label"]] == [p["label"] for p in predictions]
    elif task == "many-to-many-equal":
        assert [
            [t.decode() for t in row[: len(ex)]]
            for row, ex in zip(served["tags"], examples, strict=True)
        ] == [[tag for _, tag in p["tags"]] for p in predictions]
    else:
        key = "caption" if task == "one-to-many" else "translation"
        greedy = loaded.task.predict(loaded.model, examples, beam_width=1)
        assert [s.decode() for s in served[key]] == [g[key] for g in greedy]


@pytest.mark.slow
def test_a_crf_tagger_learns_as_well_as_the_softmax_tagger(tmp_path: Path) -> None:
    f1 = {}
    for crf in (False, True):
        result = zoo.train("many-to-many-equal", epochs=3, hparams={"crf": crf}, verbose=0)
        f1[crf] = result.metrics["validation"]["entity_f1"]
    assert f1[True] >= max(SETTINGS["many-to-many-equal"][1], f1[False] - 0.02), f1
    # the CRF model travels: registry round trip and export decode with Viterbi too
    examples = [
        result.task.raw_input(ex)
        for ex in result.task.load("embedded", "test").take(3).as_numpy_iterator()
    ]
    before = result.task.predict(result.model, examples)
    path = registry.save(result, "crf-tagger")
    loaded = zoo.load(f"crf-tagger@{path.name}")
    assert loaded.predict_batch(examples) == before
    _check_export(loaded, examples, before, tmp_path)


def test_one_to_one_steps_unfold_the_same_input() -> None:
    task = zoo.get_task("one-to-one")()
    task.adapt(None, task.dataset("embedded"))
    model = task.build_model(zoo.tasks.base.hyperparameters({"steps": 3, "cell": "simple_rnn"}))
    assert model.get_layer("repeat_steps").output.shape[1] == 3
    image = np.zeros((1, 8, 8, 1), np.uint8)
    assert model(image).shape == (1, 10)
