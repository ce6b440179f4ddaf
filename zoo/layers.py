"""Layers and compile settings shared by the task model builders.

Each helper declares the hyperparameters it uses (with defaults), so a task's
`build_model(hp)` is at once the default model and its keras-tuner search space.
"""
from __future__ import annotations

import keras
import keras_tuner as kt

from zoo.task import CELLS


def cell_type(hp: kt.HyperParameters) -> str:
    """The recurrent cell, `simple_rnn` or `lstm`: always a hyperparameter of every task."""
    return hp.Choice("cell", list(CELLS), default="lstm")


def recurrent(
    hp: kt.HyperParameters,
    units: int,
    *,
    name: str,
    return_sequences: bool = False,
    return_state: bool = False,
) -> keras.layers.Layer:
    """A `SimpleRNN` or `LSTM` layer, chosen by the `cell` hyperparameter.

    The LSTM keeps the settings that let Keras run it with the cuDNN kernel on a GPU
    (tanh/sigmoid, no recurrent dropout, `unroll=False`, bias): any change here would
    silently fall back to the slow generic kernel. `unroll=True` is the one opt-out,
    for very short fixed-length sequences where unrolled graphs are faster on CPU.
    """
    unroll = hp.Boolean("unroll", default=False)
    kwargs = dict(return_sequences=return_sequences, return_state=return_state, unroll=unroll, name=name)
    if cell_type(hp) == "lstm":
        return keras.layers.LSTM(
            units, activation="tanh", recurrent_activation="sigmoid", recurrent_dropout=0.0, use_bias=True, **kwargs
        )
    return keras.layers.SimpleRNN(units, activation="tanh", **kwargs)


def maybe_bidirectional(hp: kt.HyperParameters, layer: keras.layers.Layer, *, default: bool) -> keras.layers.Layer:
    """Wrap `layer` in `Bidirectional` when the `bidirectional` hyperparameter says so."""
    if hp.Boolean("bidirectional", default=default):
        return keras.layers.Bidirectional(layer, name=f"bi_{layer.name}")
    return layer


def output_layer(units: int, activation: str, name: str) -> keras.layers.Dense:
    """Output projection kept in float32 so that mixed precision on GPU stays stable."""
    return keras.layers.Dense(units, activation=activation, dtype="float32", name=name)


def compile_model(
    model: keras.Model,
    hp: kt.HyperParameters,
    *,
    loss: str | keras.losses.Loss,
    metrics: list | None = None,
    weighted_metrics: list | None = None,
    learning_rate: float = 1e-3,
) -> keras.Model:
    """Adam with gradient clipping by norm, on by default: SimpleRNNs explode without it."""
    optimizer = keras.optimizers.Adam(
        learning_rate=hp.Float("learning_rate", 1e-4, 3e-2, sampling="log", default=learning_rate),
        clipnorm=hp.Float("clipnorm", 0.1, 10.0, sampling="log", default=1.0),
    )
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics, weighted_metrics=weighted_metrics)
    return model
