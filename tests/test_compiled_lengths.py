"""Fewer shapes for JAX to compile: `compiled_call(..., round_lengths=True)` lets batches of
other lengths reuse a few compilations (file-order batches of sentences otherwise compiled
the model once a batch) with the same results as the unpadded model, and NER training
batches have one character width."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from zoo.models.compiled import padded_length

#: run under JAX in its own process: Keras reads the backend once per process
UNDER_JAX = """
import numpy as np, keras
from zoo.models.compiled import compiled_call
keras.utils.set_random_seed(0)
words = keras.Input((None,), dtype="int32", name="words")
chars = keras.Input((None, None), dtype="int32", name="chars")
x = keras.layers.Embedding(50, 4, mask_zero=True)(words)
real = keras.ops.expand_dims(keras.ops.cast(keras.ops.not_equal(chars, 0), "float32"), -1)
c = keras.ops.sum(keras.layers.Embedding(30, 4)(chars) * real, axis=2)  # padding adds nothing
c = keras.layers.Masking()(c)  # a padded word's characters sum to 0: masked, as its word
x = keras.layers.Concatenate()([x, c])
x = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True))(x)
model = keras.Model({"words": words, "chars": chars}, keras.layers.Dense(2)(x))
rounded = compiled_call(model, round_lengths=True)
plain = compiled_call(model)
rng = np.random.default_rng(0)
for length in range(9, 17):
    inputs = {"words": rng.integers(1, 50, (2, length)).astype("int32"),
              "chars": rng.integers(1, 30, (2, length, 5)).astype("int32")}
    expected = np.asarray(model(inputs))
    got = np.asarray(rounded(inputs))
    assert got.shape == (2, 16, 2), got.shape
    np.testing.assert_allclose(got[:, :length], expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(plain(inputs)), expected, atol=1e-5)
print(rounded.compilations(), plain.compilations())
"""


#: NER batches under JAX: the `chars` axis of every batch (the embedded data's training split)
NER_UNDER_JAX = """
import keras
from zoo.tasks.base import get_task
from zoo.training.fit import load_and_adapt
task = get_task("many-to-many-equal")()
train_raw, _ = load_and_adapt(task, task.dataset("embedded"))
widths = {x["chars"].shape[2] for x, _, _ in task.batches(train_raw, 8, training=True).as_numpy_iterator()}
print(keras.config.backend(), task.preprocessing.max_word_length, sorted(widths))
"""


def _under_jax(script: str) -> str:
    """What `script` prints, run with `sys.executable` under the JAX backend (the session's
    prepared datasets reused)."""
    pytest.importorskip("jax")
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "KERAS_BACKEND": "jax"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_ner_batches_under_jax_have_one_character_width() -> None:
    # one width (the longest word kept, rounded up to a multiple of 8): characters padded
    # to each batch's longest word made JAX compile the training step for 8, 16 and 24
    backend, longest, widths = _under_jax(NER_UNDER_JAX).split(maxsplit=2)
    assert backend == "jax"
    assert json.loads(widths) == [-(-int(longest) // 8) * 8]


def test_padded_length_is_a_power_of_two_from_eight() -> None:
    assert [padded_length(n) for n in (0, 1, 8, 9, 16, 17, 100, 128, 129)] == [
        8,
        8,
        8,
        16,
        16,
        32,
        128,
        128,
        256,
    ]


def test_rounded_lengths_compile_once_under_jax_with_unchanged_results() -> None:
    rounded, plain = map(int, _under_jax(UNDER_JAX).split()[-2:])
    # eight lengths (9 ... 16): one compilation padded to 16, eight without rounding
    assert (rounded, plain) == (1, 8)
