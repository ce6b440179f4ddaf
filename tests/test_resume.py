"""An interrupted `zoo train` resumes with --resume from its last finished epoch."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from zoo import registry
from zoo.training.fit import HistoryBackup, ResumableEarlyStopping, leading_callbacks

# small batches keep each epoch long enough (about a second) to be interrupted in the middle of the run
COMMAND = [
    "train",
    "one-to-one",
    "--epochs",
    "12",
    "--batch-size",
    "8",
    "--set",
    "units=128",
    "--name",
    "resumable",
]


def _zoo(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "zoo", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


# slow: two `zoo train` processes, with epochs long enough to be interrupted
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_an_interrupted_training_resumes_and_loses_at_most_one_epoch(
    sig: signal.Signals, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("ZOO_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry"))
    first = _zoo(*COMMAND)
    deadline, done = time.monotonic() + 240, 0
    while time.monotonic() < deadline and done < 3:  # wait for three finished epochs
        histories = list((tmp_path / "checkpoints").glob("*/history.json"))
        with contextlib.suppress(OSError, ValueError, KeyError):  # being written right now
            done = len(json.loads(histories[0].read_text())["loss"]) if histories else 0
        assert first.poll() is None, first.stdout.read()
        time.sleep(0.05)
    first.send_signal(sig)
    first.communicate(timeout=60)
    assert not (tmp_path / "registry" / "resumable").exists()  # nothing half-trained was saved

    second = _zoo(*COMMAND, "--resume")
    output, _ = second.communicate(timeout=300)
    assert second.returncode == 0, output[-3000:]
    assert "resuming from" in output
    card = registry.verify(tmp_path / "registry" / "resumable" / "1")
    assert card.training.epochs_run == 12  # the history covers the epochs before the kill
    epochs_run_again = output.count("Epoch ")
    assert epochs_run_again <= 12 - done + 1, output  # at most one finished epoch was lost
    assert not list(
        (tmp_path / "checkpoints").glob("*/history.json")
    )  # finished: the checkpoint is gone


class _StopAt(keras.callbacks.Callback):
    """Interrupt training as a kill would, when `epoch` begins."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_the_saved_history_is_cut_to_the_epochs_training_resumes_after(tmp_path: Path) -> None:
    """In-process and fast: the history kept beside BackupAndRestore's checkpoint matches the
    epochs it restores, whatever extra was saved, and is gone once training finishes."""
    x, y = np.random.default_rng(0).random((32, 3)).astype("float32"), np.zeros((32, 1), "float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")

    def fit(*extra: keras.callbacks.Callback) -> HistoryBackup:
        backup = HistoryBackup(str(tmp_path))
        model.fit(
            x,
            y,
            epochs=5,
            verbose=0,
            callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path)), backup, *extra],
        )
        return backup

    with pytest.raises(KeyboardInterrupt):
        fit(_StopAt(3))
    saved = json.loads((tmp_path / "history.json").read_text())
    assert len(saved["loss"]) == 3
    (tmp_path / "history.json").write_text(
        json.dumps({"loss": [*saved["loss"], -1.0]})
    )  # one epoch more than restored
    backup = fit()
    assert len(backup.history["loss"]) == 5 and backup.history["loss"][:3] == saved["loss"]
    assert -1.0 not in backup.history["loss"]
    assert not (tmp_path / "history.json").exists()


class _Score(keras.callbacks.Callback):
    """Log a scripted validation score per epoch, as `HeadlineMetric` logs the real one."""

    def __init__(self, scores: list[float]):
        super().__init__()
        self.scores = scores

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs["val_score"] = self.scores[epoch]


@pytest.mark.parametrize("interrupt_at", [2, 3, 4])
def test_a_resumed_run_stops_at_the_same_epoch_with_the_same_best_weights(
    interrupt_at: int, tmp_path: Path
) -> None:
    """Early stopping's best score, wait and best weights survive the interruption: the
    resumed run ends exactly as the uninterrupted one (plain EarlyStopping, started afresh,
    took epoch 5's weights, the best of the epochs after the resume)."""
    scores = [0.1, 0.9, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]  # best at epoch 1; patience 3 stops at 4
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 3)).astype("float32"), rng.random((32, 1)).astype("float32")

    def fit(folder: Path, *extra: keras.callbacks.Callback) -> tuple[keras.Model, list]:
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        stopping = ResumableEarlyStopping(
            str(folder), monitor="val_score", mode="max", patience=3, restore_best_weights=True
        )
        history = HistoryBackup(str(folder))
        callbacks = [_Score(scores), stopping, keras.callbacks.BackupAndRestore(str(folder))]
        model.fit(
            x,
            y,
            batch_size=32,
            epochs=len(scores),
            shuffle=False,
            verbose=0,
            callbacks=[*callbacks, history, *extra],
        )
        return model, history.history["loss"]

    expected, expected_losses = fit(tmp_path / "whole")
    assert len(expected_losses) == 5  # stopped at epoch 4 (0-based)
    with pytest.raises(KeyboardInterrupt):
        fit(tmp_path / "interrupted", _StopAt(interrupt_at))
    resumed, losses = fit(tmp_path / "interrupted")
    assert losses == pytest.approx(expected_losses)  # stopped at the same epoch
    for got, want in zip(resumed.get_weights(), expected.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)  # epoch 1's weights, restored
    assert not (tmp_path / "interrupted").exists()  # finished: the backup is gone


@pytest.mark.parametrize("interrupt_at", [1, 3])
def test_a_moving_average_of_the_weights_is_validated_kept_and_resumed(
    interrupt_at: int, tmp_path: Path
) -> None:
    """With `ema_momentum`, early stopping keeps the average of the best epoch (what was
    validated), and an interrupted run resumes from the trained weights to the same end."""
    scores = [0.1, 0.2, 0.9, 0.3, 0.4, 0.5, 0.6]  # best at epoch 2; patience 3 stops at 5
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 3)).astype("float32"), rng.random((64, 1)).astype("float32")

    def fit(
        folder: Path, *extra: keras.callbacks.Callback
    ) -> tuple[keras.Model, _Snapshot, _Snapshot]:
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(
            optimizer=keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5), loss="mse"
        )
        trained = _Snapshot()  # before the swap: the weights training goes on from
        stopping = ResumableEarlyStopping(
            str(folder), monitor="val_score", mode="max", patience=3, restore_best_weights=True
        )
        snapshot = _Snapshot()
        model.fit(
            x,
            y,
            batch_size=8,
            epochs=len(scores),
            shuffle=False,
            verbose=0,
            callbacks=[
                trained,
                *leading_callbacks(model, str(folder), keep=False),
                snapshot,
                _Score(scores),
                stopping,
                HistoryBackup(str(folder)),
                *extra,
            ],
        )
        return model, snapshot, trained

    expected, seen, trained = fit(tmp_path / "whole")
    assert len(seen.weights) == 6  # stopped at epoch 5 (0-based)
    for got, want in zip(expected.get_weights(), seen.weights[2], strict=True):
        np.testing.assert_allclose(got, want)  # the average validated at epoch 2
    assert not np.allclose(expected.get_weights()[0], trained.weights[2][0])  # not the trained ones
    with pytest.raises(KeyboardInterrupt):
        fit(tmp_path / "interrupted", _StopAt(interrupt_at))
    resumed, _, _ = fit(tmp_path / "interrupted")
    for got, want in zip(resumed.get_weights(), expected.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5)


class _Snapshot(keras.callbacks.Callback):
    """Keep the weights after every epoch."""

    def __init__(self):
        super().__init__()
        self.weights: list[list[np.ndarray]] = []

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.weights.append(self.model.get_weights())


class _KillAtEnd(keras.callbacks.Callback):
    """Interrupt as a kill would after the last epoch's backup, before training ends."""

    def on_train_end(self, logs=None) -> None:
        raise KeyboardInterrupt


def test_a_run_killed_after_its_last_epoch_still_keeps_the_best_weights(tmp_path: Path) -> None:
    """Every epoch was backed up but training did not end: the resumed call runs no epoch
    and must still end on the best epoch's weights, not the last one's."""
    scores = [0.1, 0.9, 0.2]
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 3)).astype("float32"), rng.random((8, 1)).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")

    def fit(*first: keras.callbacks.Callback) -> None:
        stopping = ResumableEarlyStopping(
            str(tmp_path), monitor="val_score", mode="max", patience=5, restore_best_weights=True
        )
        callbacks = [_Score(scores), stopping, keras.callbacks.BackupAndRestore(str(tmp_path))]
        model.fit(x, y, epochs=3, verbose=0, callbacks=[*first, *callbacks])

    snapshot = _Snapshot()
    with pytest.raises(KeyboardInterrupt):
        fit(snapshot, _KillAtEnd())
    assert len(snapshot.weights) == 3
    np.testing.assert_allclose(model.get_weights()[0], snapshot.weights[2][0])  # the last epoch's
    fit()  # resumed: no epoch left to run
    for got, want in zip(model.get_weights(), snapshot.weights[1], strict=True):
        np.testing.assert_allclose(got, want)  # the best epoch's
    assert not tmp_path.joinpath("early-stopping").exists()


class _Sleep(keras.callbacks.Callback):
    """Make every epoch last at least `seconds`."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        time.sleep(self.seconds)


@pytest.mark.slow
def test_a_resumed_run_records_the_training_time_of_all_its_epochs(tmp_path: Path) -> None:
    """The card's `training.seconds` of a resumed run covers the epochs before the
    interruption (it was the time since the resume: 2 of 4 epochs here)."""
    import zoo

    run = dict(
        epochs=4,
        hparams={"cell": "simple_rnn", "units": 16},
        checkpoint_dir=str(tmp_path),
        verbose=0,
    )
    with pytest.raises(KeyboardInterrupt):
        zoo.train("one-to-one", **run, callbacks=[_StopAt(2), _Sleep(0.5)])
    result = zoo.train("one-to-one", **run, callbacks=[_Sleep(0.5)])
    per_epoch = result.history["epoch_seconds"]
    assert len(per_epoch) == 4 and min(per_epoch) >= 0.5
    assert result.seconds == pytest.approx(sum(per_epoch))
    assert result.seconds >= 2.0  # four epochs of at least half a second, two before the resume


@pytest.mark.slow
def test_a_failed_save_keeps_the_trained_model_and_resume_saves_it_without_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A full or read-only registry after the last epoch: the checkpoint was already deleted
    and `--resume` said "nothing to resume" (issue 28, item 7)."""
    from zoo.cli import main
    from zoo.errors import ZooError

    monkeypatch.setenv("ZOO_CHECKPOINTS", str(tmp_path / "checkpoints"))
    command = ["train", "many-to-one", "--epochs", "2", "--set", "units=8", "--name", "kept"]
    real_save = registry.save

    def disk_full(*args, **kwargs):
        raise ZooError(f"saving into {tmp_path} failed (No space left on device).")

    monkeypatch.setattr(registry, "save", disk_full)
    assert main(command) == 2
    error = [line for line in capsys.readouterr().err.splitlines() if "zoo: error" in line]
    kept = list((tmp_path / "checkpoints").iterdir())
    assert len(error) == 1 and len(kept) == 1
    assert str(kept[0]) in error[0] and "--resume" in error[0] and "--registry" in error[0]

    monkeypatch.setattr(registry, "save", real_save)
    epochs_run = []
    monkeypatch.setattr(
        HistoryBackup, "on_epoch_begin", lambda self, epoch, logs=None: epochs_run.append(epoch)
    )
    other = tmp_path / "other"
    assert main([*command, "--resume", "--registry", str(other)]) == 0
    assert epochs_run == []  # both epochs were done: nothing trained again
    card = json.loads((other / "kept" / "1" / "card.json").read_text())
    assert len(card["training"]["history"]["loss"]) == 2
    assert not kept[0].exists()  # saved: the checkpoint goes


def test_a_registry_that_cannot_be_written_is_refused_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from zoo.cli import main

    monkeypatch.setenv("ZOO_CHECKPOINTS", str(tmp_path / "checkpoints"))
    (tmp_path / "a-file").write_text("not a folder")
    registry_root = tmp_path / "a-file" / "registry"
    assert main(["train", "many-to-one", "--epochs", "1", "--registry", str(registry_root)]) == 2
    error = [line for line in capsys.readouterr().err.splitlines() if "zoo: error" in line]
    assert len(error) == 1 and "nothing was trained" in error[0] and "--registry" in error[0]
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.slow
def test_resuming_on_changed_data_is_refused_naming_what_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """`r.csv` rewritten between a killed run and its `--resume`: with other labels the run
    resumed silently and mixed both datasets' history; with new words it crashed (issue
    28, item 4)."""
    from zoo.cli import main

    monkeypatch.setenv("ZOO_CHECKPOINTS", str(tmp_path / "checkpoints"))
    data = tmp_path / "r.csv"
    data.write_text("text,label\n" + "a good film,pos\na bad film,neg\n" * 10)
    command = ["train", "many-to-one", "--data", str(data), "--format", "csv", "--epochs", "2"]
    real_save = registry.save

    def killed(*args, **kwargs):  # the run dies after its epochs: its checkpoint stays
        raise KeyboardInterrupt

    monkeypatch.setattr(registry, "save", killed)
    assert main([*command, "--set", "units=8"]) == 130  # Ctrl-C
    monkeypatch.setattr(registry, "save", real_save)
    data.write_text("text,label\n" + "a good film,great\na bad film,awful\n" * 10)
    assert main([*command, "--set", "units=8", "--resume"]) == 2
    error = [line for line in capsys.readouterr().err.splitlines() if "zoo: error" in line]
    assert len(error) == 1 and "the data changed" in error[0]
    assert (
        "labels (labels: neg, pos -> awful, great)" in error[0] and "without --resume" in error[0]
    )
    data.write_text("text,label\n" + "a fine movie,pos\na dull movie,neg\n" * 10)
    assert main([*command, "--set", "units=8", "--resume"]) == 2
    error = [line for line in capsys.readouterr().err.splitlines() if "zoo: error" in line]
    assert "dataset (zoo_csv_text/" in error[0] and "vocabularies" in error[0]
    # without --resume the old checkpoint is discarded and training starts afresh
    assert main([*command, "--set", "units=8"]) == 0


@pytest.mark.slow
def test_training_does_not_warn_that_its_input_ran_out_of_data(recwarn) -> None:
    """Keras's "Your input ran out of data ... use .repeat()" warned at the end of every
    epoch of every training (issue 28, item 13): an epoch of a dataset of unknown length
    ends that way."""
    import zoo

    zoo.train("many-to-one", epochs=2, hparams={"units": 8}, verbose=0)  # bucketed: length unknown
    assert not [w for w in recwarn if "ran out of data" in str(w.message)]
