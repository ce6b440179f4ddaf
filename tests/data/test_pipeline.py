"""The shared `tf.data` stage: on JAX, batch shapes are rounded up so that XLA compiles the
training step for a handful of shapes, not one per batch."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo.data import pipeline


def test_pad_to_multiple_pads_only_the_variable_dimensions_with_padding_values() -> None:
    @tf.function(input_signature=[tf.TensorSpec((None, None, 3), tf.int32)])
    def ids(x):
        return pipeline.pad_to_multiple(x, 8)

    padded = ids(tf.ones((2, 5, 3), tf.int32)).numpy()
    assert padded.shape == (2, 8, 3)  # the known 3 stays
    assert (padded[:, :5] == 1).all() and (padded[:, 5:] == 0).all()

    @tf.function(input_signature=[tf.TensorSpec((None, None), tf.string)])
    def words(x):
        return pipeline.pad_to_multiple(x, 4)

    assert words(tf.constant([["a", "b", "c", "d", "e"]])).numpy().tolist() == [
        [b"a", b"b", b"c", b"d", b"e", b"", b"", b""]
    ]
    assert pipeline.pad_to_multiple(tf.ones((2, 5)), 1).shape == (2, 5)


@pytest.mark.parametrize("multiple", [1, 8])
def test_rounded_batches_keep_every_token_and_weigh_the_added_padding_zero(
    multiple: int,
) -> None:
    """The tagger's three inputs, tags and weights: each variable dimension is a multiple of
    8 on JAX's setting, the real tokens are those of the unrounded batch, the rest is 0."""
    task = zoo.get_task("many-to-many-equal")()
    spec = task.dataset("embedded")
    raw = task.load(spec, "train").take(48)
    task.adapt(raw, spec)

    def batches(shape_multiple: int) -> list:
        ds = pipeline.batch_pipeline(
            task.encode(raw, training=False),
            16,
            training=False,
            length_fn=task.length_fn,
            shape_multiple=shape_multiple,
        )
        return list(ds.as_numpy_iterator())

    plain, rounded = batches(1), batches(multiple)
    assert len(plain) == len(rounded)
    for (x0, y0, w0), (x, y, w) in zip(plain, rounded, strict=True):
        time, chars = x0["chars"].shape[1:]
        assert x["chars"].shape[1:] == (
            -(-time // multiple) * multiple,
            -(-chars // multiple) * multiple,
        )
        assert x["words"].shape == y.shape == w.shape == x["chars"].shape[:2]
        np.testing.assert_array_equal(x["words"][:, :time], x0["words"])
        np.testing.assert_array_equal(x["chars"][:, :time, :chars], x0["chars"])
        np.testing.assert_array_equal(y[:, :time], y0)
        np.testing.assert_array_equal(w[:, :time], w0)
        assert not x["words"][:, time:].any() and not w[:, time:].any()


def test_the_backend_decides_the_default_multiple(monkeypatch) -> None:
    import keras

    monkeypatch.setattr(keras.config, "backend", lambda: "jax")
    assert pipeline.default_shape_multiple() == pipeline.JAX_SHAPE_MULTIPLE
    monkeypatch.setattr(keras.config, "backend", lambda: "tensorflow")
    assert pipeline.default_shape_multiple() == 1
