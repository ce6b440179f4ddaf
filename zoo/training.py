"""Training shared by every task: seeds, devices, callbacks, fit and the final metrics."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import keras
import tensorflow as tf

from zoo.task import DatasetSpec, Task, get_task, hyperparameters


REFERENCE_EXAMPLES = 2


@dataclass
class TrainResult:
    """Everything a registry needs to save and describe a trained model."""

    task: Task
    model: keras.Model
    dataset: str  # the task's key for it, or "files" for a dataset built from files
    spec: DatasetSpec
    hyperparameters: dict[str, Any]
    seed: int
    epochs: int
    batch_size: int
    history: dict[str, list[float]]
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0
    patience: int | None = None
    precision_policy: str = "float32"
    #: a few raw test inputs; the registry stores them with the model's outputs for them
    reference_inputs: list[Any] = field(default_factory=list)


def configure_devices() -> str:
    """Mixed precision when a GPU is present (the LSTM then runs on cuDNN); float32 on CPU,
    where float16 is slower. Returns the policy name, for the model card."""
    policy = "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"
    keras.mixed_precision.set_global_policy(policy)
    return policy


class HeadlineMetric(keras.callbacks.Callback):
    """Measure the task's own metric on validation after every epoch (entity F1 and BLEU
    need decoding, which Keras metrics cannot do) and log it as `val_<metric>`, so that it
    reaches the progress bar, the history, TensorBoard and the training curves."""

    def __init__(self, task: Task, validation: tf.data.Dataset, batch_size: int):
        super().__init__()
        self.task, self.validation, self.batch_size = task, validation, batch_size

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        scores = self.task.evaluate(self.model, self.validation, batch_size=self.batch_size, quick=True)
        if logs is not None:
            logs.update({f"val_{k}": v for k, v in scores.items() if f"val_{k}" not in logs})


def train(
    task_name: str,
    *,
    dataset: str | DatasetSpec = "embedded",
    epochs: int | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    hparams: dict[str, Any] | None = None,
    tensorboard: str | None = None,
    checkpoint_dir: str | None = None,
    patience: int | None = None,
    verbose: int | str = "auto",
) -> TrainResult:
    """Train one task on one dataset; measure it on the validation and test splits.

    With `checkpoint_dir`, the state is backed up after every epoch and an interrupted run
    started again with the same arguments resumes from its last finished epoch. With
    `patience`, training stops once the validation headline metric has not improved for
    that many epochs, and the best epoch's weights are kept.
    """
    keras.utils.set_random_seed(seed)
    policy = configure_devices()
    task = get_task(task_name)()
    spec = task.dataset(dataset)
    hp = hyperparameters(hparams)  # checks the values before any data is touched
    train_raw = task.load(dataset, "train")
    val_raw = task.load(dataset, "validation")
    task.adapt(train_raw, spec)
    model = task.build_model(hp)
    epochs = epochs or task.default_epochs
    batch_size = batch_size or task.default_batch_size
    callbacks: list[keras.callbacks.Callback] = [HeadlineMetric(task, val_raw, batch_size), keras.callbacks.TerminateOnNaN()]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=tensorboard))
    if patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=f"val_{task.headline_metric}", mode="max", patience=patience, restore_best_weights=True
            )
        )
    if checkpoint_dir:
        callbacks.append(keras.callbacks.BackupAndRestore(checkpoint_dir))
    started = time.perf_counter()
    history = model.fit(
        task.batches(train_raw, batch_size, training=True, seed=seed),
        validation_data=task.batches(val_raw, batch_size, training=False),
        epochs=epochs,
        callbacks=callbacks,
        shuffle=False,  # the pipeline already shuffles, with a recorded seed
        verbose=verbose,
    )
    seconds = time.perf_counter() - started
    metrics = {"validation": task.evaluate(model, val_raw, batch_size=batch_size)}
    held_out = task.load(dataset, "test" if spec.test is not None else "validation")
    if spec.test is not None:
        metrics["test"] = task.evaluate(model, held_out, batch_size=batch_size)
    return TrainResult(
        task=task,
        model=model,
        dataset=dataset if isinstance(dataset, str) else "files",
        spec=spec,
        hyperparameters=dict(hp.values),
        seed=seed,
        epochs=epochs,
        batch_size=batch_size,
        patience=patience,
        precision_policy=policy,
        history={k: [float(v) for v in vs] for k, vs in history.history.items()},
        metrics=metrics,
        seconds=seconds,
        reference_inputs=[task.raw_input(ex) for ex in held_out.take(REFERENCE_EXAMPLES).as_numpy_iterator()],
    )
