"""Hyperparameter searches with keras-tuner over any zoo task.

The search space of a task is its model builder: `Task.build_model(hp)` declares every
hyperparameter with its default, so one keras-tuner `HyperModel` (`TaskHyperModel`)
serves all five tasks. `tune` runs, resumes or joins (as a distributed worker) a
search and registers its best model; `records` reads a search folder for reports.
"""

from zoo.tuning.hypermodel import TaskHyperModel
from zoo.tuning.search import TUNER_CLASSES, make_tuner, tune

__all__ = ["TUNER_CLASSES", "TaskHyperModel", "make_tuner", "tune"]
