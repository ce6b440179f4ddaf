"""Hyperparameter searches with keras-tuner over any zoo task.

The search space of a task is its model builder: `Task.build_model(hp)` declares every
hyperparameter with its default, so a keras-tuner `HyperModel` only has to call it.
"""
