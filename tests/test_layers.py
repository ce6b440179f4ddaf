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


def test_the_kernel_that_ran_is_recorded() -> None:
    """On this CPU every LSTM call falls back to the generic loop (no GPU), and the recorder
    says so; on a GPU the same check reports cuDNN for eligible layers."""
    import numpy as np
    import tensorflow as tf

    import kernels  # benchmarks/kernels.py (on the path via conftest)

    task = zoo.get_task("many-to-one")()
    task.adapt(task.load("embedded", "train").take(200), task.dataset("embedded"))
    model = task.build_model(hyperparameters({"cell": "lstm"}))
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
