"""`--strategy mirrored` trains every task on two logical CPU devices: the Keras models hold
no string ops, so nothing but numbers reaches the cross-replica sums."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import zoo

TINY = ["--set", "units=8", "--set", "embedding_dim=16"]


@pytest.mark.slow
@pytest.mark.parametrize("task", list(zoo.TASKS))
def test_every_task_trains_mirrored_on_two_logical_devices(task: str, tmp_path: Path) -> None:
    extra = ["--set", "cnn_filters=16", "--set", "cnn_blocks=2"] if task == "one-to-many" else []
    extra = [] if task == "one-to-one" else TINY + extra
    env = {**os.environ, "ZOO_LOGICAL_CPUS": "2", "ZOO_REGISTRY": str(tmp_path)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "zoo",
            "train",
            task,
            "--strategy",
            "mirrored",
            "--epochs",
            "1",
            "--name",
            "m",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    card = zoo.registry.verify(tmp_path / "m" / "1")
    assert card.training.strategy == "mirrored" and card.training.replicas == 2
