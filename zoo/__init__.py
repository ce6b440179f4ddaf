"""A Keras model zoo for recurrent sequence models (SimpleRNN, LSTM and GRU) in the five
input/output shapes. The public Python API mirrors the `zoo` command line:

    import zoo
    zoo.all_tasks()                      # zoo tasks
    result = zoo.train("many-to-one")    # zoo train many-to-one
    zoo.save(result)                     # (zoo train saves too)
    model = zoo.load("NAME")             # zoo predict NAME ...
    model.predict("a great film")
    tuned = zoo.retrain("NAME", zoo.prepare("my_reviews.csv", "csv"))   # zoo retrain NAME --data ...
    zoo.tune("many-to-one", directory="search")                         # zoo tune many-to-one ...

Attributes are imported on first use, so that `zoo --help` does not wait for TensorFlow.
TensorFlow's start-up log lines are kept off standard error as on the command line, unless
`ZOO_VERBOSE=1` or a `TF_CPP_MIN_LOG_LEVEL` of 0 asks for them (`zoo._quiet`).
"""

from __future__ import annotations

import importlib
from typing import Any

import wrapt

from zoo._quiet import quiet_tensorflow_start

_API = {
    "ZooError": "zoo.errors",
    "UnknownNameError": "zoo.errors",
    "DatasetUnavailableError": "zoo.errors",
    "BadInputError": "zoo.errors",
    "ZooWarning": "zoo.errors",
    # from the package, whose import registers all five tasks: zoo.TASKS is never empty
    "Task": "zoo.tasks",
    "TASKS": "zoo.tasks",
    "all_tasks": "zoo.tasks",
    "get_task": "zoo.tasks",
    "TrainResult": "zoo.training.fit",
    "train": "zoo.training.fit",
    "retrain": "zoo.training.finetune",
    "prepare": "zoo.data.formats",
    "save": "zoo.registry.store",
    "load": "zoo.registry.store",
    "list_models": "zoo.registry.store",
    "ZooModel": "zoo.registry.store",
    "IntegrityError": "zoo.registry.store",
    "tune": "zoo.tuning.search",
}
#: sub-packages reachable as attributes after a bare `import zoo` (`zoo.registry.load`)
_SUBPACKAGES = (
    "cli",
    "constants",
    "data",
    "errors",
    "models",
    "registry",
    "tasks",
    "training",
    "tuning",
)
__all__ = sorted(_API)


def _register_custom_layers(keras_module: Any) -> None:
    importlib.import_module("zoo.models.custom_layers")  # defining them registers them


# `import zoo` makes every zoo layer known to Keras (so `keras.saving.load_model` reads zoo
# models in safe mode) without importing Keras itself, which would cost `zoo --help` seconds:
# the layers are registered as soon as Keras is imported, or at once if it already is.
wrapt.register_post_import_hook(_register_custom_layers, "keras")
quiet_tensorflow_start()


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"zoo.{name}")
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")
