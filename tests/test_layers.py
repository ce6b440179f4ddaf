"""Every LSTM the zoo builds keeps the settings that make it cuDNN-eligible on a GPU."""

from __future__ import annotations

import keras
import pytest

import zoo
from zoo.models.layers import walk_layers
from zoo.tasks.base import hyperparameters


def _recurrent_layers(model: keras.Model):
    for layer in walk_layers(model):
        if isinstance(layer, keras.layers.Bidirectional):
            yield layer.forward_layer
            yield layer.backward_layer
        elif isinstance(layer, keras.layers.RNN):
            yield layer


@pytest.mark.parametrize(
    "cell, kind",
    [
        ("lstm", keras.layers.LSTM),
        ("simple_rnn", keras.layers.SimpleRNN),
        ("gru", keras.layers.GRU),
    ],
)
@pytest.mark.parametrize("task_name", sorted(zoo.all_tasks()))
def test_cell_choice_and_cudnn_settings(task_name: str, cell: str, kind: type) -> None:
    task = zoo.get_task(task_name)()
    task.adapt(task.load("embedded", "train").take(200), task.dataset("embedded"))
    model = task.build_model(hyperparameters({"cell": cell}))
    layers = list(_recurrent_layers(model))
    assert layers and all(isinstance(layer, kind) for layer in layers)
    for layer in layers:
        assert layer.cell.activation is keras.activations.tanh
        assert not layer.unroll and layer.cell.recurrent_dropout == 0 and layer.cell.use_bias
        if cell in ("lstm", "gru"):
            assert layer.cell.recurrent_activation is keras.activations.sigmoid
        if cell == "gru":  # cuDNN's GRU applies the reset gate after the matrix product
            assert layer.cell.reset_after


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_kernel_that_ran_is_recorded(cell: str) -> None:
    """On this CPU every LSTM and GRU call falls back to the generic loop (no GPU), and the
    recorder says so; on a GPU the same check reports cuDNN for eligible layers."""
    import numpy as np
    import tensorflow as tf

    import kernels  # benchmarks/kernels.py (on the path via conftest)

    task = zoo.get_task("many-to-one")()
    task.adapt(task.load("embedded", "train").take(200), task.dataset("embedded"))
    model = task.build_model(hyperparameters({"cell": cell}))
    with kernels.record() as ran:
        model(task.preprocessing.model_inputs(tf.constant(["a fine film", "dull"])), training=False)
    expected = "cuDNN" if tf.config.list_physical_devices("GPU") else "generic"
    assert ran == [expected, expected]  # the forward and the backward direction
    assert kernels.cudnn_eligible(model) == {"forward_rnn": True, "backward_rnn": True}
    unrolled = keras.Sequential(
        [keras.Input((4, 2)), keras.layers.LSTM(3, unroll=True, name="unrolled")]
    )
    assert kernels.cudnn_eligible(unrolled) == {"unrolled": False}
    assert np.isfinite(np.asarray(unrolled(np.zeros((1, 4, 2))))).all()
    before_cudnn = keras.Sequential(
        [keras.Input((4, 2)), keras.layers.GRU(3, reset_after=False, name="reset_before")]
    )
    assert kernels.cudnn_eligible(before_cudnn) == {"reset_before": False}


def test_dropout_between_stacked_layers_drops_the_same_channels_at_every_step() -> None:
    """`layer_dropout` is variational dropout between stacked recurrent layers: one mask of
    channels for all time steps of a sequence, nothing at inference, the padding mask passed
    on; at 0 (the default, every model saved before it) no layer is added."""
    import numpy as np
    import tensorflow as tf

    task = zoo.get_task("many-to-many-equal")()
    task.adapt(task.load("embedded", "train").take(200), task.dataset("embedded"))
    stacked = {"layers": 2, "char_encoder": "cnn", "crf": True}
    plain = task.build_model(hyperparameters(stacked))
    assert not any(
        isinstance(layer, keras.layers.SpatialDropout1D) and "rnn" in layer.name
        for layer in walk_layers(plain)
    )
    model = task.build_model(hyperparameters({**stacked, "layer_dropout": 0.5}))
    dropout = model.get_layer("rnn_1_dropout")
    assert isinstance(dropout, keras.layers.SpatialDropout1D) and dropout.rate == 0.5
    keras.utils.set_random_seed(0)
    sequence = tf.ones((4, 7, 16))
    dropped = np.asarray(dropout(sequence, training=True))
    kept = dropped != 0
    assert (kept == kept[:, :1, :]).all()  # a channel is kept or dropped at every step alike
    assert 0.2 < kept.mean() < 0.8 and np.allclose(dropped[kept], 2.0)  # rescaled by 1 / (1 - 0.5)
    assert np.array_equal(np.asarray(dropout(sequence, training=False)), np.asarray(sequence))
    padding = tf.constant([[True] * 5 + [False] * 2] * 4)  # the tagger's mask goes on
    assert np.array_equal(np.asarray(dropout.compute_mask(sequence, padding)), np.asarray(padding))
