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
from zoo.training.fit import HistoryBackup

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
