"""Every LSTM the zoo builds keeps the settings that make it cuDNN-eligible on a GPU."""
from __future__ import annotations

import keras
import pytest

import zoo
from zoo.task import hyperparameters


def _recurrent_layers(model: keras.Model):
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.Bidirectional):
            yield layer.forward_layer
            yield layer.backward_layer
        elif isinstance(layer, (keras.layers.LSTM, keras.layers.SimpleRNN)):
            yield layer


@pytest.mark.parametrize("cell, kind", [("lstm", keras.layers.LSTM), ("simple_rnn", keras.layers.SimpleRNN)])
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
        if cell == "lstm":
            assert layer.cell.recurrent_activation is keras.activations.sigmoid
