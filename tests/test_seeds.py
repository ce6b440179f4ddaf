"""A seed fixes a training's random draws whatever else the process did before."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest


class _InitialWeights(keras.callbacks.Callback):
    def __init__(self, into: list) -> None:
        super().__init__()
        self.into = into

    def on_train_begin(self, logs=None) -> None:
        self.into.append(self.model.get_weights())


@pytest.mark.slow
def test_the_initial_weights_depend_on_the_seed_not_on_whether_the_data_was_prepared(
    tmp_path: Path, monkeypatch
) -> None:
    from zoo.training.fit import train

    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path / "tfds"))
    seen: list = []
    for _ in range(2):  # the first run prepares the embedded dataset, the second reads it
        train(
            "one-to-one",
            epochs=1,
            batch_size=256,
            seed=1,
            hparams={"units": 32},
            callbacks=[_InitialWeights(seen)],
            verbose=0,
        )
    first, second = seen
    assert len(first) == len(second) > 0
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
