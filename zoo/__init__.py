"""A Keras model zoo for recurrent sequence models (SimpleRNN and LSTM) in the five
input/output shapes. The public Python API mirrors the `zoo` command line:

    import zoo
    zoo.all_tasks()                      # zoo tasks
    result = zoo.train("many-to-one")    # zoo train many-to-one
    zoo.save(result)                     # (zoo train saves too)
    model = zoo.load("NAME")             # zoo predict NAME ...
    model.predict("a great film")
    tuned = zoo.retrain("NAME", zoo.prepare("my_reviews.csv", "csv"))   # zoo retrain NAME --data ...

Attributes are imported on first use, so that `zoo --help` does not wait for TensorFlow.
"""
from __future__ import annotations

import importlib
from typing import Any

_API = {
    "ZooError": "zoo.errors",
    "UnknownNameError": "zoo.errors",
    "DatasetUnavailableError": "zoo.errors",
    "BadInputError": "zoo.errors",
    "Task": "zoo.task",
    "TASKS": "zoo.task",
    "all_tasks": "zoo.task",
    "get_task": "zoo.task",
    "TrainResult": "zoo.training",
    "train": "zoo.training",
    "retrain": "zoo.finetune",
    "prepare": "zoo.formats",
    "save": "zoo.registry",
    "load": "zoo.registry",
    "list_models": "zoo.registry",
    "ZooModel": "zoo.registry",
    "IntegrityError": "zoo.registry",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'zoo' has no attribute {name!r}")
    return getattr(importlib.import_module(_API[name]), name)
