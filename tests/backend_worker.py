"""One side of a cross-backend check, run in its own process (Keras reads `KERAS_BACKEND`
once per process): `tests/test_backends.py` starts it under each backend.

    python tests/backend_worker.py train TASK CELL VARIANT_JSON SPLITS_JSON FOLDER
        build a tiny model, fit one step, save it into FOLDER/registry, export it to
        FOLDER/export-<backend> and write FOLDER/trained.json: the model's outputs on the
        first batch (kept in FOLDER/batch.npz), `predict` on three inputs, and the exported
        signature's outputs for them.
    python tests/backend_worker.py load FOLDER
        load the saved model (the registry checks its reference outputs), and write
        FOLDER/loaded-<backend>.json with the same outputs, predictions and export.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import zoo
from zoo import registry
from zoo.models.compiled import compiled_call
from zoo.tasks.base import Task, hyperparameters
from zoo.training.fit import finish

sys.path.insert(0, str(Path(__file__).parent / "tasks"))  # run as a script, not by pytest
from test_task_harness import serving_batch  # noqa: E402

TINY = {"units": 8, "embedding_dim": 8, "char_embedding_dim": 8, "char_units": 8}
TINY |= {"cnn_filters": 8, "cnn_blocks": 2}


def greedy(task: Task, model: keras.Model, examples: list[Any]) -> list[Any]:
    """`predict`, greedy where the task can beam-search (as the serving signature decodes)."""
    options = (
        {"beam_width": 1} if "beam_width" in inspect.signature(task.predict).parameters else {}
    )
    return json.loads(json.dumps(task.predict(model, examples, **options)))


def export_outputs(loaded: registry.ZooModel, folder: Path) -> dict[str, Any]:
    """Export with `zoo export`'s code, reload with plain TensorFlow, serve the examples."""
    from zoo.registry.export import export

    target = export(loaded, folder / f"export-{keras.config.backend()}")
    serve = tf.saved_model.load(str(target / "savedmodel")).signatures["serving_default"]
    examples = examples_of(loaded.task, loaded.card)
    return {
        key: keras.tree.map_structure(
            lambda v: v.decode() if isinstance(v, bytes) else v, value.numpy().tolist()
        )
        for key, value in serve(serving_batch(examples)).items()
    }


def examples_of(task: Task, card: Any) -> list[Any]:
    """Three validation inputs of the model's (tiny) dataset."""
    spec = dataclasses.replace(
        task.dataset("embedded"), validation=card.dataset.splits["validation"]
    )
    return [task.raw_input(ex) for ex in task.load(spec, "validation").take(3).as_numpy_iterator()]


def outputs_on(model: keras.Model, folder: Path) -> list[Any]:
    """The model's raw outputs on the saved batch, as nested lists."""
    with np.load(folder / "batch.npz") as saved:
        keys = [k for k in saved.files if k != "_single"]
        inputs = {k: saved[k] for k in keys} if "_single" not in saved.files else saved["_single"]
    outputs = compiled_call(model)(inputs)
    return keras.tree.map_structure(lambda a: np.asarray(a).tolist(), outputs)


def train(name: str, cell: str, variant: dict, splits: dict, folder: Path) -> None:
    keras.utils.set_random_seed(0)
    task = zoo.TASKS[name]()
    spec = dataclasses.replace(task.dataset("embedded"), **splits)
    train_raw = task.load(spec, "train")
    task.adapt(train_raw, spec)
    hp = hyperparameters({**TINY, "cell": cell, **variant})
    model = task.build_model(hp)
    batch = next(task.batches(train_raw, 8, training=True).as_numpy_iterator())
    logs = model.train_on_batch(*batch, return_dict=True)
    inputs = batch[0]
    np.savez(folder / "batch.npz", **(inputs if isinstance(inputs, dict) else {"_single": inputs}))
    result = finish(
        task, model, spec, hp=dict(hp.values), seed=0, epochs=1, batch_size=8,
        history={k: [float(v)] for k, v in logs.items()}, seconds=0.0,
    )  # fmt: skip
    path = registry.save(result, "cross", root=folder / "registry")
    loaded = registry.load(f"cross@{path.name}", root=folder / "registry")
    report(loaded, folder, "trained.json")


def report(loaded: registry.ZooModel, folder: Path, filename: str) -> None:
    examples = examples_of(loaded.task, loaded.card)
    (folder / filename).write_text(
        json.dumps(
            {
                "backend": keras.config.backend(),
                "card_backend": loaded.card.training.backend,
                "outputs": outputs_on(loaded.model, folder),
                "predicted": greedy(loaded.task, loaded.model, examples),
                "served": export_outputs(loaded, folder),
            }
        )
    )


def main(argv: list[str]) -> None:
    if argv[0] == "train":
        name, cell, variant, splits, folder = argv[1:]
        train(name, cell, json.loads(variant), json.loads(splits), Path(folder))
    else:
        folder = Path(argv[1])
        loaded = registry.load("cross", root=folder / "registry")  # its latest version
        report(loaded, folder, f"loaded-{keras.config.backend()}.json")


if __name__ == "__main__":
    main(sys.argv[1:])
