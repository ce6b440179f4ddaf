"""One keras-tuner `HyperModel` for every zoo task.

`build(hp)` is the task's own `build_model(hp)`, which declares the task's search space;
`fit` adds the batch size to it, trains, and returns the task's headline metric on the
validation split (accuracy, entity F1, BLEU), never the validation loss.
"""

from __future__ import annotations

import time
from typing import Any

import keras
import keras_tuner as kt

from zoo.errors import DivergedError, UnknownNameError
from zoo.tasks.base import DatasetSpec, Task, get_task, hyperparameters
from zoo.training.fit import fit_model, load_and_adapt

BATCH_SIZES = (16, 32, 64, 128)


def objective(task: Task, metric: str | None = None) -> kt.Objective:
    """A search's objective: a validation metric of the task, maximised.

    Args:
        task: the task searched.
        metric: its headline metric (default) or one of its `objective_metrics` (e.g.
            `macro_f1` for a classifier with imbalanced classes), with or without `val_`.

    Returns:
        `keras_tuner.Objective("val_<metric>", direction="max")`.

    Raises:
        UnknownNameError: a metric the task does not measure after every epoch.
    """
    metric = (metric or task.headline_metric).removeprefix("val_")
    allowed = (task.headline_metric, *task.objective_metrics)
    if metric not in allowed:
        raise UnknownNameError(f"search objective of {task.name}", metric, allowed)
    return kt.Objective(f"val_{metric}", direction="max")


class TaskHyperModel(kt.HyperModel):
    """Builds and fits one zoo task on one dataset. The task's preprocessing (vocabularies,
    label names) is fitted once on the training split and shared by every trial, so
    trials differ only in their hyperparameters.

    The data is loaded and the preprocessing fitted when the object is made.

    Args:
        task_name: e.g. `many-to-one`.
        dataset: a key of the task's datasets (default `embedded`) or a `DatasetSpec`.
        epochs: epochs per trial (default: the task's `default_epochs`); Hyperband's most.
        seed: seeds every trial's initial weights and the shuffle.
        fixed: hyperparameters not searched; the preprocessing is fitted with them (e.g.
            translation's `units_kind`), once for every trial.
        metric: the validation metric maximised (`objective`); default the headline one.

    Raises:
        UnknownNameError: an unknown task, dataset or split.
        DatasetUnavailableError: the dataset cannot be prepared here.
        ZooError: no vocabulary to learn from the training split.
    """

    def __init__(
        self,
        task_name: str,
        dataset: str | DatasetSpec = "embedded",
        *,
        epochs: int | None = None,
        seed: int = 0,
        fixed: dict[str, Any] | None = None,
        metric: str | None = None,
    ):
        task = get_task(task_name)()
        super().__init__(name=task.name)
        self.task, self.dataset, self.seed = task, task.dataset(dataset), seed
        self.metric = metric
        self.epochs = epochs or task.default_epochs
        self.train_raw, self.val_raw = load_and_adapt(task, self.dataset, hyperparameters(fixed))
        #: the last trial's per-epoch logs and duration, for the search record
        self.last_history: dict[str, list[float]] = {}
        self.last_seconds = 0.0

    @property
    def objective(self) -> kt.Objective:
        """The search objective (`objective` of this hypermodel's task and metric).

        Returns:
            `keras_tuner.Objective("val_<metric>", direction="max")`.
        """
        return objective(self.task, self.metric)

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        """keras-tuner's `build`: the task's `build_model(hp)`, from the same initial weights
        (seeded) for the same hyperparameters.
        """
        keras.utils.set_random_seed(self.seed)  # the same initial weights for the same trial
        return self.task.build_model(hp)

    def fit(
        self,
        hp: kt.HyperParameters,
        model: keras.Model,
        *args: Any,
        callbacks: list | None = None,
        epochs: int | None = None,
        initial_epoch: int = 0,
        verbose: int | str = "auto",
        **kwargs: Any,
    ) -> dict[str, float]:
        """Train one trial. The tuner's own callbacks (its best-epoch checkpoint, TensorBoard)
        run after ours, so they see the headline metric in the epoch logs. Returns the best
        epoch's validation headline metric: the epoch whose weights the tuner kept.

        Args:
            hp: the trial's hyperparameters; `batch_size` is declared here (one of
                `BATCH_SIZES`, default the task's).
            model: the trial's model, from `build`.
            *args: ignored (keras-tuner passes none).
            callbacks: the tuner's callbacks.
            epochs: default: this hypermodel's `epochs` (Hyperband passes its own).
            initial_epoch: the epoch to start at (Hyperband).
            verbose: Keras' progress output.
            **kwargs: ignored, e.g. keras-tuner's `x` and `validation_data`.

        Returns:
            `{"val_<headline_metric>": best value over the trial's epochs}`. The trial's logs
            and seconds are kept in `last_history` and `last_seconds`.

        Raises:
            keras_tuner.errors.FailedTrialError: the loss became NaN or infinite
                (`DivergedError`); the search goes on with the next trial.
        """
        batch_size = hp.Choice(
            "batch_size", list(BATCH_SIZES), default=self.task.default_batch_size
        )
        self.last_history, started = {}, time.perf_counter()
        try:
            self.last_history = fit_model(
                self.task,
                model,
                self.train_raw,
                self.val_raw,
                epochs=epochs or self.epochs,
                batch_size=batch_size,
                seed=self.seed,
                callbacks=callbacks,
                initial_epoch=initial_epoch,
                verbose=verbose,
            )
        except DivergedError as err:
            raise kt.errors.FailedTrialError(str(err)) from err
        finally:
            self.last_seconds = time.perf_counter() - started
        name = self.objective.name
        return {name: max(self.last_history[name])}
