"""Training shared by every task: seeds, devices, callbacks, fit and the final metrics."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import tensorflow as tf

from zoo._quiet import keras_verbose
from zoo.constants import STRATEGIES
from zoo.data import loading
from zoo.errors import BadInputError, DivergedError, UnknownNameError, ZooError
from zoo.registry.layout import write_json_atomic
from zoo.tasks.base import DatasetSpec, Task, get_task, hyperparameters, out_of_memory
from zoo.training.distributed import (
    ProcessGroup,
    process_group,
    shard_batches,
    start_data_parallel,
    stop_data_parallel,
)

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
    #: the Keras backend that trained it (`tensorflow`, `jax`)
    backend: str = "tensorflow"
    strategy: str = "default"
    replicas: int = 1
    #: the processes that trained it together (`--strategy data-parallel`); only process 0
    #: saves the model
    processes: ProcessGroup = field(default_factory=ProcessGroup)
    #: for a model found by `zoo tune`: the tuner, objective and trial counts
    search: dict[str, Any] | None = None
    #: for a fine-tuned model (`zoo retrain`): its parent `name@version` and what changed
    retrain: dict[str, Any] | None = None
    #: a few raw test inputs; the registry stores them with the model's outputs for them
    reference_inputs: list[Any] = field(default_factory=list)


def configure_devices() -> None:
    """Mixed precision when a GPU is present (the LSTM then runs on cuDNN); float32 on CPU,
    where float16 is slower.

    `ZOO_LOGICAL_CPUS=N` splits the CPU into N logical devices, so that `--strategy
    mirrored` runs data-parallel code paths on a machine without GPUs (for tests and
    debugging; it makes nothing faster).

    Raises:
        ZooError: `ZOO_LOGICAL_CPUS` is not a positive number, or TensorFlow already
            initialised its devices in this process.
    """
    if os.environ.get("ZOO_LOGICAL_CPUS"):
        _split_cpu(os.environ["ZOO_LOGICAL_CPUS"])
    policy = "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"
    keras.mixed_precision.set_global_policy(policy)


def _split_cpu(count: str) -> None:
    if not count.isdigit() or int(count) < 1:
        raise ZooError(f"ZOO_LOGICAL_CPUS must be a positive whole number, got {count!r}.")
    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration()] * int(count)
    if tf.config.get_logical_device_configuration(cpu) == wanted:
        return  # already split (a second training in the same process)
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError as err:
        raise ZooError(
            "ZOO_LOGICAL_CPUS must be set before TensorFlow starts; set it in the environment of "
            "the process."
        ) from err


class HeadlineMetric(keras.callbacks.Callback):
    """Measure the task's own metric on validation after every epoch (entity F1 and BLEU
    need decoding, which Keras metrics cannot do) and log it as `val_<metric>`, so that it
    reaches the progress bar, the history, TensorBoard and the training curves.

    Every metric of a quick `evaluate` is logged, except where Keras already logged that
    name (e.g. `val_accuracy`).

    Args:
        task: the task being trained (its preprocessing fitted).
        validation: raw validation examples.
        batch_size: examples per batch for `evaluate`.
    """

    def __init__(self, task: Task, validation: tf.data.Dataset, batch_size: int):
        super().__init__()
        self.task, self.validation, self.batch_size = task, validation, batch_size

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        scores = self.task.evaluate(
            self.model, self.validation, batch_size=self.batch_size, quick=True
        )
        if logs is not None:
            logs.update({f"val_{k}": v for k, v in scores.items() if f"val_{k}" not in logs})


class EpochSeconds(keras.callbacks.Callback):
    """Log each epoch's wall time, its validation measurements included, as
    `epoch_seconds`, so that it is in the history: `HistoryBackup` keeps it across an
    interruption, and a resumed run's training time (`TrainResult.seconds`, the card's
    `training.seconds`) is the sum over all its epochs rather than the time since the resume.

    Put it after `HeadlineMetric`, whose validation decoding belongs to the epoch's time.
    """

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self.started


def training_seconds(history: dict[str, list[float]]) -> float:
    """Training wall time of a `fit_model` history: the sum of its `epoch_seconds`.

    Args:
        history: per-epoch logs, as `fit_model` returns them.

    Returns:
        Seconds (float); 0.0 for a history of no epochs.
    """
    return float(sum(history.get("epoch_seconds", [])))


def distribution_strategy(name: str | None) -> tf.distribute.Strategy:
    """`mirrored` copies the model onto every GPU of this machine (or every logical device)
    and splits each batch between them; `default` (None) is one device, and so is
    `data-parallel` as far as `tf.distribute` is concerned (Keras's own distribution
    spreads it, `zoo.training.distributed`). `MultiWorkerMirroredStrategy` is left out on
    purpose: it fails in `fit` under Keras 3.15 / TF 2.21 (keras-team/keras#20585); across
    processes and machines, train with `data-parallel` on JAX.

    Args:
        name: `default` or None, `mirrored` or `data-parallel`.

    Returns:
        The strategy; build the model under its `scope()`.

    Raises:
        UnknownNameError: any other name.
        ZooError: `mirrored` under a backend other than TensorFlow.
    """
    if name in (None, "default", "data-parallel"):
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if keras.config.backend() != "tensorflow":
            raise ZooError(
                "--strategy mirrored is TensorFlow's tf.distribute: train with --backend tensorflow."
            )
        return tf.distribute.MirroredStrategy()
    raise UnknownNameError("distribution strategy", name, STRATEGIES)


def hyperparameter_table(
    task_name: str, values: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every hyperparameter a task's model reads, as it builds on its embedded data: the
    value it takes, its search range (`zoo tune`) and the values allowed (`--set`).

    Hyperparameters read only under another's value (SGD's `momentum`, the tagger's
    character encoder sizes) appear when `values` sets that one (`optimizer=sgd`).

    Args:
        task_name: e.g. `many-to-one`.
        values: hyperparameters to fix first, as `--set` gives them.

    Returns:
        One row per hyperparameter, by name: `name`, `type`, `value` (the default, or the
        value set), `searched` (the search range or choices, in words) and `allowed`
        (`zoo.models.hyperparameters.LIMITS`).

    Raises:
        UnknownNameError, ZooError: as `train` for the values and the model.
    """
    from zoo.models import hyperparameters as limits

    task = get_task(task_name)()
    hp = hyperparameters(values)
    load_and_adapt(task, task.dataset("embedded"), hp)
    task.build_checked(hp)
    rows = []
    for entry in sorted(hp.space, key=lambda e: e.name):
        config = entry.get_config()
        if "values" in config:
            searched = ", ".join(map(str, config["values"]))
        elif "min_value" in config:
            searched = f"{config['min_value']:g} to {config['max_value']:g}"
        elif "value" in config:
            searched = "not searched unless asked (--choice)"
        else:
            searched = "true, false"
        if entry.name in (values or {}):
            searched = "set"
        limit = limits.LIMITS.get(entry.name)
        rows.append(
            {
                "name": entry.name,
                "type": limit.kind if limit else type(hp.values[entry.name]).__name__,
                "value": hp.values[entry.name],
                "searched": searched,
                "allowed": limit.describe() if limit else "",
            }
        )
    return rows


def load_and_adapt(
    task: Task, spec: DatasetSpec, hp: kt.HyperParameters | None = None
) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """The dataset's raw training and validation splits, with the task's preprocessing
    (vocabularies, label names) fitted on the training split.

    Args:
        task: a task instance; its `preprocessing` is replaced.
        spec: the dataset, resolved once where the command starts (`Task.dataset`).
        hp: the model's hyperparameters, for the preprocessing's options (`Task.adapt`).

    Returns:
        The raw `train` and `validation` examples.
    """
    train_raw, val_raw = task.load(spec, "train"), task.load(spec, "validation")
    task.adapt(train_raw, spec, hp)
    return train_raw, val_raw


#: what a checkpoint folder records of the data its epochs were trained on
TRAINING_DATA_FILE = "training-data.json"


def data_fingerprint(task: Task, spec: DatasetSpec) -> dict[str, Any]:
    """What a run's epochs were trained on, to tell a resumed run that its data changed.

    Args:
        task: the task, its preprocessing fitted on the training split.
        spec: the dataset.

    Returns:
        `dataset` (the TFDS name: for users' files it holds their content checksum),
        `version`, `splits`, the fitted `labels` (label-name fields) and the SHA-256 of
        each vocabulary (`vocabularies`).
    """
    prep = task.preprocessing
    return json.loads(
        json.dumps(
            {
                "dataset": spec.tfds_name,
                "version": str(loading.info(spec.tfds_name).version),
                "splits": {"train": spec.train, "validation": spec.validation},
                "labels": prep.label_sets(),
                "vocabularies": {
                    name: hashlib.sha256("\n".join(tokens).encode()).hexdigest()
                    for name, tokens in prep.vocabularies().items()
                },
            }
        )
    )


def check_same_data(directory: str, fingerprint: dict[str, Any]) -> None:
    """Record the data a run trains on in its checkpoint folder, or, when the folder holds
    an earlier run's record (`--resume`), refuse to continue on other data: its history
    would mix two datasets under one name, and a changed vocabulary or label set would not
    fit the saved weights.

    Args:
        directory: the checkpoint folder.
        fingerprint: `data_fingerprint` of this run.

    Raises:
        BadInputError: the recorded data differs; the message names what changed.
    """
    path = Path(directory) / TRAINING_DATA_FILE
    if path.exists():
        before = json.loads(path.read_text())
        changed = [
            f"{key} ({_changed(before.get(key), value)})"
            for key, value in fingerprint.items()
            if before.get(key) != value
        ]
        if changed:
            raise BadInputError(
                f"cannot resume from {directory}: the data changed since its epochs were trained: "
                f"{'; '.join(changed)}. Run the command without --resume to start afresh."
            )
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, fingerprint)


def _changed(before: Any, now: Any) -> str:
    """What differs between two recorded values, briefly."""
    if isinstance(before, dict) and isinstance(now, dict):
        keys = sorted(k for k in {*before, *now} if before.get(k) != now.get(k))
        if all(isinstance(before.get(k), list) for k in keys):
            return ", ".join(
                f"{k}: {', '.join(map(str, before.get(k) or []))[:60]} -> "
                f"{', '.join(map(str, now.get(k) or []))[:60]}"
                for k in keys
            )
        return f"{', '.join(keys)} differ"
    return f"{before} -> {now}"


class HistoryBackup(keras.callbacks.Callback):
    """Keep the epoch logs beside `BackupAndRestore`'s checkpoint, so a resumed run's history
    (and its card and training curves) covers the epochs before the interruption too.

    The logs are written to `<directory>/history.json` after every epoch and deleted when
    training ends (unless `keep`); `history` holds them, for the caller to read after `fit`.

    Args:
        directory: the checkpoint folder `BackupAndRestore` uses.
        keep: leave the logs when training ends (the caller deletes the folder once the
            model is saved).
    """

    def __init__(self, directory: str, *, keep: bool = False):
        super().__init__()
        self.path = Path(directory) / "history.json"
        self.keep = keep
        self.history: dict[str, list[float]] = {}

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        # what an interrupted run saved; `on_epoch_begin` cuts it to the epochs the restored
        # weights have seen (kept whole when no epoch is left to run)
        self.history = json.loads(self.path.read_text()) if self.path.exists() else {}

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        # Keras numbers epochs from the start of training, also when BackupAndRestore resumed
        # it, so `epoch` epochs are done: anything saved beyond them (a file left by a run
        # killed as it finished) is dropped. A no-op on every later epoch.
        self.history = {key: values[:epoch] for key, values in self.history.items()}

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, self.history)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if not self.keep:  # finished: the next run starts afresh, as BackupAndRestore does
            self.path.unlink(missing_ok=True)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras's `EarlyStopping` whose state survives an interruption: the best score, its
    epoch, the epochs waited and the best epoch's weights are backed up beside
    `BackupAndRestore`'s checkpoint, so a resumed run stops where an uninterrupted one
    would and keeps the same best weights (plain `EarlyStopping` starts again from nothing:
    a run interrupted after its best epoch would silently keep a worse one).

    Put it before `BackupAndRestore` in the callbacks: its state for an epoch is then
    written before the checkpoint of that epoch, so whatever epoch the checkpoint restores,
    the state of that epoch is on disk. The state of the last two epochs is kept
    (`<directory>/early-stopping/state.json`, and the best weights they name as
    `best-<epoch>.npz`); it is deleted when training ends, unless `keep`.

    Args:
        directory: the checkpoint folder `BackupAndRestore` uses.
        keep: leave the state when training ends (the caller deletes the folder once the
            model is saved; a run resumed with no epoch left restores the same weights).
        **kwargs: `keras.callbacks.EarlyStopping`'s arguments.
    """

    def __init__(self, directory: str, *, keep: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.folder = Path(directory) / "early-stopping"
        self.keep = keep
        self._saved: dict[str, dict[str, Any]] = {}  # epoch (str, for JSON) -> state after it
        self._resumed = False

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        super().on_train_begin(logs)
        state = self.folder / "state.json"
        self._saved = json.loads(state.read_text()) if state.exists() else {}
        self._resumed = False

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        # the first epoch of this call follows the last one the checkpoint restored
        if not self._resumed:
            self._resumed = True
            self._restore(epoch - 1)

    def _restore(self, epoch: int) -> None:
        # forget what was saved after `epoch` (a run killed between this state and the
        # checkpoint runs that epoch again)
        self._saved = {k: v for k, v in self._saved.items() if int(k) <= epoch}
        state = self._saved.get(str(epoch))
        if state is None:
            return
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        if self.restore_best_weights and state["has_weights"]:
            with np.load(self.folder / f"best-{self.best_epoch}.npz") as arrays:
                self.best_weights = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        self.folder.mkdir(parents=True, exist_ok=True)
        has_weights = self.best_weights is not None
        if has_weights and self.best_epoch == epoch:
            np.savez(self.folder / f"best-{epoch}.npz", *self.best_weights)
        self._saved = {k: v for k, v in self._saved.items() if int(k) >= epoch - 1}
        self._saved[str(epoch)] = {
            "best": None if self.best is None else float(self.best),
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "has_weights": has_weights,
        }
        write_json_atomic(self.folder / "state.json", self._saved)
        named = {f"best-{s['best_epoch']}.npz" for s in self._saved.values() if s["has_weights"]}
        for path in self.folder.glob("best-*.npz"):
            if path.name not in named:
                path.unlink()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if not self._resumed and self._saved:
            # the checkpoint restored every epoch, so none ran in this call: the state after
            # the last one holds
            self._restore(max(map(int, self._saved)))
        super().on_train_end(logs)
        if not self.keep:
            shutil.rmtree(self.folder, ignore_errors=True)


#: set by SIGINT during training. Python can lose the KeyboardInterrupt (raised inside a
#: TensorFlow call or a garbage-collection callback, it may be swallowed there and training
#: would go on to save a model), so the interrupt is also remembered here and re-raised at
#: the next batch or epoch boundary.
_INTERRUPTED = threading.Event()
_NESTING = [0]  # only the outermost `interruptible` block installs the handler


def _on_sigint(signum: int, frame: Any) -> None:
    _INTERRUPTED.set()
    signal.default_int_handler(signum, frame)


def raise_if_interrupted() -> None:
    """Raise the Ctrl-C that `interruptible` remembered, if any.

    Raises:
        KeyboardInterrupt: SIGINT arrived inside an `interruptible` block.
    """
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt


class StopOnInterrupt(keras.callbacks.Callback):
    """Re-raise a remembered Ctrl-C at the next boundary. Put it last: the epoch's backup
    callbacks run first, so a resumed run loses at most the epoch in progress."""

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        raise_if_interrupted()

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        raise_if_interrupted()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        raise_if_interrupted()


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, Ctrl-C always ends in KeyboardInterrupt, however deep in TensorFlow
    it lands. Nested blocks (a search running trials) share the outermost one's state.

    Only the outermost block in the main thread installs the SIGINT handler, and restores
    the previous one on leaving.

    Returns:
        A context manager; `as` binds None.

    Raises:
        KeyboardInterrupt: on leaving the block, when Ctrl-C was pressed inside it, even if
            the exception itself was lost on the way.
    """
    outermost = _NESTING[0] == 0 and threading.current_thread() is threading.main_thread()
    previous = None
    if outermost:
        _INTERRUPTED.clear()
        previous = signal.signal(signal.SIGINT, _on_sigint)
    _NESTING[0] += 1
    try:
        yield
        raise_if_interrupted()
    finally:
        _NESTING[0] -= 1
        if outermost:
            signal.signal(signal.SIGINT, previous)


def check_finite(history: dict[str, list[float]]) -> None:
    """Raise `DivergedError` when training ended on a NaN or infinite loss (TerminateOnNaN
    stopped it): such a model must never reach the registry.

    Args:
        history: per-epoch Keras logs; only `loss` is read.

    Raises:
        DivergedError: an epoch's loss is NaN or infinite (the message names the first).
    """
    losses = history.get("loss", [])
    bad = [i for i, v in enumerate(losses, 1) if not math.isfinite(v)]
    if bad:
        raise DivergedError(
            f"training diverged: the loss became {losses[bad[0] - 1]} in epoch {bad[0]}; nothing was saved. "
            "Lower the learning rate (--set learning_rate=...) or clip gradients harder (--set clipnorm=...)."
        )


def finish(
    task: Task,
    model: keras.Model,
    spec: DatasetSpec,
    *,
    hp: dict[str, Any],
    seed: int,
    epochs: int,
    batch_size: int,
    history: dict[str, list[float]],
    seconds: float,
    **details: Any,
) -> TrainResult:
    """Measure a trained model on the validation and test splits and gather what the
    registry records about it.

    Args:
        task: the trained task, its preprocessing fitted.
        model: the trained model.
        spec: the dataset it was trained on.
        hp: the hyperparameter values the model was built with.
        seed: the training seed.
        epochs: the epochs asked for.
        batch_size: the training batch size, also used for the measurements.
        history: per-epoch logs.
        seconds: training wall time.
        **details: further `TrainResult` fields (`patience`, `strategy`, `replicas`,
            `search`, `retrain`). The precision policy is read from the model itself and the
            backend from Keras, so every way of training (train, retrain, tune) records
            those it ran under.

    Decisions fitted on held-out data (`Task.calibrate`) are chosen on `validation` first.

    Returns:
        The `TrainResult`, with full (not quick) metrics on `validation` and, where the
        dataset has one, `test`, and as reference inputs the first `REFERENCE_EXAMPLES` raw
        inputs of the test split (else of validation).

    Raises:
        DatasetUnavailableError: a split cannot be loaded.
    """
    validation = task.load(spec, "validation")
    task.calibrate(model, validation, batch_size=batch_size)
    metrics = {"validation": task.evaluate(model, validation, batch_size=batch_size)}
    held_out = task.load(spec, "test" if spec.test is not None else "validation")
    if spec.test is not None:
        metrics["test"] = task.evaluate(model, held_out, batch_size=batch_size)
    return TrainResult(
        task=task,
        model=model,
        dataset=spec.key,
        spec=spec,
        hyperparameters=hp,
        seed=seed,
        epochs=epochs,
        batch_size=batch_size,
        history={k: [float(v) for v in vs] for k, vs in history.items()},
        metrics=metrics,
        seconds=seconds,
        reference_inputs=[
            task.raw_input(ex) for ex in held_out.take(REFERENCE_EXAMPLES).as_numpy_iterator()
        ],
        precision_policy=model.dtype_policy.name,
        backend=keras.config.backend(),
        **details,
    )


def averages(model: keras.Model) -> bool:
    """Whether `model`'s optimizer keeps a moving average of the weights (`ema_momentum`).

    Args:
        model: a compiled model.

    Returns:
        True when its optimizer (inside a loss-scale wrapper too) has `use_ema` set.
    """
    optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)
    return bool(getattr(optimizer, "use_ema", False))


def leading_callbacks(
    model: keras.Model, checkpoint_dir: str | None, *, keep: bool
) -> list[keras.callbacks.Callback]:
    """The callbacks that must come first at an epoch's end, in this order.

    The backup of the epoch (`BackupAndRestore`) comes first, while the model holds the
    weights training goes on from. Then, when the optimizer keeps a moving average of the
    weights (`ema_momentum`), Keras's `SwapEMAWeights(swap_on_epoch=True)` swaps the average
    in until the next epoch begins: validation, the headline metric and early stopping see
    and keep the average, and a resumed run goes on from the trained weights, not the average.

    Args:
        model: the compiled model.
        checkpoint_dir: the backup folder, or None for no backup.
        keep: leave the last epoch's backup when training ends.

    Returns:
        The backup (with `checkpoint_dir`), then the swap (when `averages(model)`).
    """
    first: list[keras.callbacks.Callback] = []
    if checkpoint_dir:
        first.append(keras.callbacks.BackupAndRestore(checkpoint_dir, delete_checkpoint=not keep))
    if averages(model):
        first.append(keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    return first


def fit_model(
    task: Task,
    model: keras.Model,
    train_raw: tf.data.Dataset,
    val_raw: tf.data.Dataset,
    *,
    epochs: int,
    batch_size: int,
    seed: int = 0,
    patience: int | None = None,
    tensorboard: str | None = None,
    checkpoint_dir: str | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    initial_epoch: int = 0,
    verbose: int | str = "auto",
    processes: ProcessGroup | None = None,
    keep_checkpoint: bool = False,
) -> dict[str, list[float]]:
    """Fit a compiled model on raw examples; returns the history. Raises `DivergedError`
    when the loss became NaN or infinite. Extra `callbacks` run after the zoo's, so they
    see the validation headline metric in the epoch logs.

    Args:
        task: the task, its preprocessing fitted.
        model: a compiled model from `task.build_model`.
        train_raw: raw training examples.
        val_raw: raw validation examples.
        epochs: the epoch to end at, counted from 0 (Keras' `epochs`, not a count after
            `initial_epoch`).
        batch_size: examples per batch.
        seed: the shuffle seed of the training data.
        patience: stop once `val_<headline_metric>` has not improved for this many epochs,
            restoring the best epoch's weights; None or 0 for no early stopping.
        tensorboard: a folder for TensorBoard logs, or None.
        checkpoint_dir: a folder where the training state is backed up after every epoch
            (`BackupAndRestore`); a later call with the same folder resumes from it. The
            backup is deleted when training ends. None: no backup.
        callbacks: more Keras callbacks (e.g. a tuner's).
        initial_epoch: the epoch to start at (keras-tuner's Hyperband sets it).
        verbose: Keras' `verbose`: `"auto"`, 0, 1 or 2.
        processes: the process group of a data-parallel run (`start_data_parallel` done):
            each process fits on its slice of every batch and backs up into its own
            `process-<id>` folder of `checkpoint_dir`; only process 0 writes TensorBoard logs.
        keep_checkpoint: leave the backup of the last epoch in `checkpoint_dir` when training
            ends, for the caller to delete once the model is saved: a save that fails (a
            full or read-only registry) then loses no training, and the same call resumed
            finds every epoch done.

    Returns:
        Metric name -> one float per epoch (`loss`, `val_loss`, Keras metrics,
        `val_<headline_metric>`, `epoch_seconds`); with `checkpoint_dir`, including the epochs an interrupted
        earlier run finished.

    Raises:
        DivergedError: the loss became NaN or infinite.
        ZooError: a disk error (full, read-only) while writing checkpoints or logs.
        KeyboardInterrupt: Ctrl-C, re-raised at the next batch or epoch end (an epoch's
            backup is written first), so a resumed run loses at most the epoch in progress.
    """
    # the headline metric in the logs and a stop on NaN loss come after `leading_callbacks`,
    # for the callbacks after them
    processes = processes or ProcessGroup()
    if checkpoint_dir and processes.num_processes > 1:
        checkpoint_dir = os.path.join(checkpoint_dir, f"process-{processes.process_id}")
    callbacks = [
        *leading_callbacks(model, checkpoint_dir, keep=keep_checkpoint),
        HeadlineMetric(task, val_raw, batch_size),
        EpochSeconds(),
        keras.callbacks.TerminateOnNaN(),
        *(callbacks or []),
    ]
    if tensorboard and processes.is_chief:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=tensorboard))
    if patience:
        stopping = dict(
            monitor=f"val_{task.headline_metric}",
            mode="max",
            patience=patience,
            restore_best_weights=True,
        )
        callbacks.append(
            ResumableEarlyStopping(checkpoint_dir, keep=keep_checkpoint, **stopping)
            if checkpoint_dir
            else keras.callbacks.EarlyStopping(**stopping)
        )
    backup = HistoryBackup(checkpoint_dir, keep=keep_checkpoint) if checkpoint_dir else None
    if backup:
        callbacks.append(backup)
    callbacks.append(StopOnInterrupt())
    try:
        with interruptible(), warnings.catch_warnings():
            # Keras warns at the end of every epoch of a dataset of unknown length that it
            # "ran out of data" and should be repeated: that is how an epoch ends here
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            history = model.fit(
                shard_batches(
                    task.batches(train_raw, batch_size, training=True, seed=seed), processes
                ),
                validation_data=shard_batches(
                    task.batches(val_raw, batch_size, training=False), processes
                ),
                epochs=epochs,
                initial_epoch=initial_epoch,
                callbacks=callbacks,
                shuffle=False,  # the pipeline already shuffles, with a recorded seed
                verbose=keras_verbose(verbose),
            )
    except (
        OSError
    ) as err:  # a full disk or a folder gone read-only while writing checkpoints or logs
        raise ZooError(
            f"training stopped: {err.strerror or err}{f' ({err.filename})' if err.filename else ''}; nothing was saved. "
            "Free some space or choose another --checkpoint-dir / --tensorboard folder, then run the same command "
            "with --resume: it continues from the last finished epoch."
        ) from err
    except Exception as err:  # out of memory in a training step: each backend has its own type
        problem = out_of_memory(err, "training", {"batch_size": batch_size})
        if problem is err:
            raise
        raise problem from err
    logs = (
        backup.history
        if backup
        else {k: [float(v) for v in vs] for k, vs in history.history.items()}
    )
    check_finite(logs)
    return logs


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
    strategy: str | None = None,
    processes: ProcessGroup | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: int | str = "auto",
    keep_checkpoint: bool = False,
) -> TrainResult:
    """Train one task on one dataset; measure it on the validation and test splits.

    With `checkpoint_dir`, the state is backed up after every epoch and an interrupted run
    started again with the same arguments resumes from its last finished epoch. With
    `patience`, training stops once the validation headline metric has not improved for
    that many epochs, and the best epoch's weights are kept. `strategy="mirrored"` trains
    on all local GPUs (see `distribution_strategy`); `strategy="data-parallel"` trains one
    model across the processes of `processes` on JAX (`zoo.training.distributed`), each
    process running this same call.

    It sets the global Keras dtype policy: `mixed_float16` when a GPU is present, else
    `float32` (`configure_devices`).

    Args:
        task_name: e.g. `many-to-one` (underscores are read as hyphens).
        dataset: a key of the task's `datasets` (default `embedded`), or a `DatasetSpec`,
            e.g. from `zoo.prepare`.
        epochs: default: the task's `default_epochs`.
        batch_size: default: the task's `default_batch_size`.
        seed: seeds Python, NumPy and TensorFlow (`keras.utils.set_random_seed`) and the
            shuffle.
        hparams: hyperparameters to fix, e.g. `{"cell": "simple_rnn", "units": 32}`; the
            rest take their defaults.
        tensorboard: a folder for TensorBoard logs.
        checkpoint_dir: a folder for the per-epoch backups.
        patience: early-stopping patience, in epochs.
        strategy: `default` (or None), `mirrored` or `data-parallel`.
        processes: for `data-parallel`, the process group; default: from Keras's
            environment variables (`zoo.training.distributed.process_group`).
        callbacks: more Keras callbacks, run after the zoo's (`fit_model`).
        verbose: Keras' progress output (`"auto"`, 0, 1 or 2).
        keep_checkpoint: leave the last epoch's backup in `checkpoint_dir` for the caller to
            delete once the model is saved (`fit_model`).

    Returns:
        The `TrainResult` (model, fitted task, metrics per split, history), for
        `zoo.registry.save`.

    Raises:
        UnknownNameError: an unknown task, dataset, split, cell or strategy.
        DatasetUnavailableError: the dataset cannot be prepared here.
        DivergedError: the loss became NaN or infinite.
        BadInputError: `checkpoint_dir` holds a run on other data (`check_same_data`).
        ZooError: a bad `ZOO_LOGICAL_CPUS`, `unroll=true` on variable-length inputs, a
            hyperparameter value the model cannot be built with (`Task.build_checked`), no
            vocabulary to learn from the training split, a disk error while training, or
            `data-parallel` off JAX or without its process group.
    """
    keras.utils.set_random_seed(seed)
    configure_devices()
    distribution = distribution_strategy(strategy)
    replicas = distribution.num_replicas_in_sync
    if strategy == "data-parallel":
        processes = processes or process_group()
        replicas = start_data_parallel(processes)
    task = get_task(task_name)()
    spec = task.dataset(
        dataset
    )  # resolved once; an unknown name fails here, before anything is loaded
    hp = hyperparameters(hparams)  # checks the values before any data is touched
    train_raw, val_raw = load_and_adapt(task, spec, hp)
    if checkpoint_dir:  # a resumed run continues only on the data it was trained on
        check_same_data(checkpoint_dir, data_fingerprint(task, spec))
    # seeded again: preparing the dataset (only in the process that finds it unprepared)
    # draws random numbers, which must not change the initial weights
    keras.utils.set_random_seed(seed)
    with distribution.scope():
        model = task.build_checked(hp)
    epochs = epochs or task.default_epochs
    batch_size = batch_size or task.default_batch_size
    history = fit_model(
        task,
        model,
        train_raw,
        val_raw,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        patience=patience,
        tensorboard=tensorboard,
        checkpoint_dir=checkpoint_dir,
        callbacks=callbacks,
        verbose=verbose,
        processes=processes,
        keep_checkpoint=keep_checkpoint,
    )
    if strategy == "data-parallel":
        model = stop_data_parallel(model)
    return finish(
        task,
        model,
        spec,
        hp=dict(hp.values),
        seed=seed,
        epochs=epochs,
        batch_size=batch_size,
        history=history,
        seconds=training_seconds(history),
        patience=patience,
        strategy=strategy or "default",
        replicas=replicas,
        processes=processes or ProcessGroup(),
    )
