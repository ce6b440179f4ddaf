"""One harness for every registered task and cell, on a handful of examples and a tiny model
(in the spirit of KerasHub's `run_task_test`): build, check output shapes, fit one step,
round-trip through the registry, and check the serving signature against `predict`.

It uses only the task contract (`load`, `adapt`, `batches`, `build_model`, `predict`,
`raw_input`, `serving_function`) and the registry's public functions, so a new task is
covered by registering it, and refactors inside a task do not break the harness. Whether
a task *learns* is checked by `test_training.py` (marked slow)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo import registry
from zoo.constants import CELLS
from zoo.tasks.base import Task, hyperparameters
from zoo.training.fit import finish

BATCH = 8
#: tiny models: the harness checks plumbing, not learning; a task's builder ignores the
#: hyperparameters it does not declare
TINY = {
    "units": 8,
    "embedding_dim": 8,
    "char_embedding_dim": 8,
    "char_units": 8,
    "cnn_filters": 8,
    "cnn_blocks": 2,
}


def serving_batch(examples: list[Any]) -> tf.Tensor:
    """Raw `predict` inputs as the serving signature takes them: images stacked, token
    lists right-padded with empty strings, texts as a string vector."""
    if isinstance(examples[0], np.ndarray):
        return tf.constant(np.stack(examples))
    if isinstance(examples[0], list):
        longest = max(map(len, examples))
        return tf.constant([tokens + [""] * (longest - len(tokens)) for tokens in examples])
    return tf.constant(examples)


def numpy_batch(batches: tf.data.Dataset) -> tuple[Any, ...]:
    """The first batch as numpy arrays: what a direct model call or `train_on_batch` takes on
    every backend (JAX refuses TensorFlow tensors; `fit` converts `tf.data` itself)."""
    return tuple(keras.tree.map_structure(np.asarray, next(batches.as_numpy_iterator())))


def greedy_predict(task: Task, model: keras.Model, examples: list[Any]) -> list[Any]:
    """`predict` as the serving signature decodes: greedily, where the task can beam-search."""
    options = (
        {"beam_width": 1} if "beam_width" in inspect.signature(task.predict).parameters else {}
    )
    return task.predict(model, examples, **options)


def assert_serving_matches(served: dict[str, Any], predicted: list[dict[str, Any]]) -> None:
    """Every output the serving signature shares with `predict` agrees, example by example."""
    served = {key: value.numpy() for key, value in served.items()}
    assert all(len(value) == len(predicted) for value in served.values()), {
        k: v.shape for k, v in served.items()
    }
    # `truncated` is in predict's result only where it is true: absent reads as False
    shared = set(served) & ({"truncated"} | {key for p in predicted for key in p})
    assert shared - {"truncated"}, (
        f"serving outputs {sorted(served)} share nothing with predict's {sorted(predicted[0])}"
    )
    for key in sorted(shared):
        for row, prediction in zip(served[key], predicted, strict=True):
            expected = prediction.get(key, False) if key == "truncated" else prediction[key]
            if isinstance(expected, list):  # one output per token, e.g. (token, tag) pairs
                expected = [item[-1] for item in expected]
                assert [t.decode() for t in row[: len(expected)]] == expected, key
                assert all(t == b"" for t in row[len(expected) :]), f"{key}: padding got an output"
            else:
                assert (row.decode() if isinstance(row, bytes) else row) == expected, key


#: heads a task can swap in by a hyperparameter, each run through the harness too
VARIANTS = [
    ("many-to-many-equal", "lstm", {"crf": True}),
    ("one-to-many", "lstm", {"attention": "none"}),  # Show and Tell, as version 1 models
]


# the card's training curves have no validation points after one step: matplotlib says so
@pytest.mark.filterwarnings("ignore:No artists with labels found:UserWarning")
# README command 2 runs every task with the LSTM cell; the SimpleRNN and the variants run
# with the slow tests (`.ci/run` runs both)
@pytest.mark.parametrize(
    ("name", "cell", "variant"),
    [
        pytest.param(name, cell, {}, marks=() if cell == "lstm" else pytest.mark.slow)
        for name in sorted(zoo.TASKS)
        for cell in CELLS
    ]
    + [pytest.param(*variant, marks=pytest.mark.slow) for variant in VARIANTS],
)
def test_task_builds_fits_round_trips_and_serves(
    name: str, cell: str, variant: dict[str, Any], tmp_path: Path, tiny_dataset
) -> None:
    keras.utils.set_random_seed(0)
    task = zoo.TASKS[name]()
    spec = tiny_dataset(name)  # 16 training examples, 8 per held-out split

    # build from a handful of examples
    train = task.load(spec, "train")
    task.adapt(train, spec)
    hp = hyperparameters({**TINY, "cell": cell, **variant})
    model = task.build_model(hp)

    # output shapes: one prediction per target (per example or per step), finite, and an
    # output unit for every target id (a single unit is a binary probability)
    inputs, targets, *_ = numpy_batch(task.batches(train, BATCH, training=False))
    outputs = np.asarray(model(inputs, training=False))
    assert outputs.shape[: targets.ndim] == tuple(targets.shape), (outputs.shape, targets.shape)
    assert np.isfinite(outputs).all()
    assert int(np.max(targets)) < max(outputs.shape[-1], 2)

    # one training step changes the weights and gives a finite loss
    before = [w.copy() for w in model.get_weights()]
    logs = model.train_on_batch(
        *numpy_batch(task.batches(train, BATCH, training=True)), return_dict=True
    )
    assert np.isfinite(logs["loss"]), logs
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))

    # the serving signature (what `zoo export` writes) gives what `predict` gives
    examples = [
        task.raw_input(ex) for ex in task.load(spec, "validation").take(3).as_numpy_iterator()
    ]
    predicted = task.predict(model, examples)
    assert len(predicted) == len(examples)
    assert_serving_matches(
        task.serving_function(model)(serving_batch(examples)), greedy_predict(task, model, examples)
    )

    # the registry round trip: hashes, safe-mode loading and reference outputs are checked
    # by `load`; the reloaded model predicts and serves as the original did
    result = finish(
        task,
        model,
        spec,
        hp=dict(hp.values),
        seed=0,
        epochs=1,
        batch_size=BATCH,
        history={key: [float(value)] for key, value in logs.items()},
        seconds=0.0,
    )
    assert task.headline_metric in result.metrics["validation"]
    path = registry.save(result, "harness", root=tmp_path)
    loaded = registry.load(f"harness@{path.name}", root=tmp_path)
    assert (loaded.card.task, loaded.card.cell) == (name, cell)
    assert loaded.task.preprocessing == task.preprocessing
    assert loaded.predict_batch(examples) == predicted
    assert_serving_matches(
        loaded.task.serving_function(loaded.model)(serving_batch(examples)),
        greedy_predict(task, model, examples),
    )
