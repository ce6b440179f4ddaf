"""Data-parallel training across processes on the JAX backend (`--strategy data-parallel`)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from zoo.backend import available
from zoo.training.distributed import ProcessGroup, process_group

# one training in a fresh process: prints its steps, losses and a summary of its weights
_TRAIN = textwrap.dedent("""
    import json, sys
    import keras, numpy as np
    from zoo.training.distributed import ProcessGroup
    from zoo.training.fit import train

    class Steps(keras.callbacks.Callback):
        count = 0
        def on_train_batch_end(self, batch, logs=None):
            Steps.count += 1

    count, index, address = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    result = train(
        "one-to-one", epochs=2, batch_size=32, seed=3, verbose=0,
        hparams={"units": 32, "dropout": 0.0},
        strategy="data-parallel" if count > 1 else None,
        processes=ProcessGroup(address, count, index) if count > 1 else None,
        callbacks=[Steps()],
    )
    print(json.dumps({
        "steps": Steps.count, "replicas": result.replicas, "loss": result.history["loss"],
        "weights": [float(np.abs(w).sum()) for w in result.model.get_weights()],
        "accuracy": result.metrics["validation"]["accuracy"],
    }))
""")


def _run(count: int, tmp_path: Path) -> list[dict]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    env = {**os.environ, "KERAS_BACKEND": "jax", "ZOO_CACHE": str(tmp_path / "cache")}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _TRAIN, str(count), str(i), address],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(count)
    ]
    results = []
    for p in processes:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


# slow: three trainings in fresh processes, two of them together
@pytest.mark.slow
@pytest.mark.skipif(not available("jax"), reason="jax is not installed")
def test_two_processes_train_the_model_one_process_trains(tmp_path: Path) -> None:
    both = _run(2, tmp_path)
    (alone,) = _run(1, tmp_path)
    # each process stepped through every global batch, as one device of two replicas
    assert [r["replicas"] for r in both] == [2, 2] and alone["replicas"] == 1
    assert both[0]["steps"] == both[1]["steps"] == alone["steps"] > 0
    # and they ended with the same weights as each other, and as the one-process run up to
    # float rounding: the gradient is summed in another order, and two epochs compound it
    assert both[0]["weights"] == both[1]["weights"]
    np.testing.assert_allclose(both[0]["weights"], alone["weights"], rtol=1e-2, atol=1e-2)
    np.testing.assert_allclose(both[0]["loss"], alone["loss"], rtol=1e-2)
    assert both[0]["accuracy"] > 0.5  # chance is 0.1


def test_the_process_group_comes_from_flags_else_keras_environment(monkeypatch) -> None:
    monkeypatch.setenv("KERAS_DISTRIBUTION_JOB_ADDRESSES", "10.0.0.1:1234,10.0.0.2:1234")
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "2")
    monkeypatch.setenv("KERAS_DISTRIBUTION_PROCESS_ID", "1")
    assert process_group() == ProcessGroup("10.0.0.1:1234", 2, 1)
    assert process_group("h:1", 4, 3) == ProcessGroup("h:1", 4, 3)
    monkeypatch.delenv("KERAS_DISTRIBUTION_JOB_ADDRESSES")
    monkeypatch.delenv("KERAS_DISTRIBUTION_NUM_PROCESSES")
    monkeypatch.delenv("KERAS_DISTRIBUTION_PROCESS_ID")
    assert process_group() == ProcessGroup(None, 1, 0)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((None, 2, 0), "need a coordinator"),
        (("h:1", 2, 2), "process id 2 is not one of 0..1"),
    ],
)
def test_a_process_group_that_cannot_form_is_refused(arguments, message) -> None:
    from zoo.errors import ZooError

    with pytest.raises(ZooError, match=message):
        process_group(*arguments)


def test_the_batches_are_split_between_processes_in_order() -> None:
    import tensorflow as tf

    from zoo.training.distributed import shard_batches

    batches = tf.data.Dataset.from_tensor_slices(np.arange(11)).batch(4)  # 4, 4, 3
    shares = [
        [b.tolist() for b in shard_batches(batches, ProcessGroup("h:1", 2, i)).as_numpy_iterator()]
        for i in range(2)
    ]
    # the last batch is cut to 2 examples, one each; no process gets an empty batch
    assert shares == [[[0, 1], [4, 5], [8]], [[2, 3], [6, 7], [9]]]


def test_data_parallel_off_jax_is_a_one_line_error(tmp_path: Path) -> None:
    env = {**os.environ, "ZOO_REGISTRY": str(tmp_path / "registry")}
    env.pop("KERAS_BACKEND", None)
    done = subprocess.run(
        [sys.executable, "-m", "zoo", "train", "one-to-one", "--backend", "tensorflow"]
        + ["--distribute", "data-parallel", "--epochs", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("zoo: error: --strategy data-parallel runs on the JAX backend")
    assert not (tmp_path / "registry").exists()  # nothing was trained or saved
