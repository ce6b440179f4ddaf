"""Layers and compile settings shared by the task model builders.

Each helper declares the hyperparameters it uses (with defaults), so a task's
`build_model(hp)` is at once the default model and its keras-tuner search space.
"""

from __future__ import annotations

from collections.abc import Iterator

import keras
import keras_tuner as kt
import numpy as np

from zoo.constants import CELLS, OPTIMIZERS
from zoo.errors import UnknownNameError, ZooError
from zoo.models.custom_layers import MaskedGlobalMaxPooling1D, recurrent_class


def cell_type(hp: kt.HyperParameters) -> str:
    """The recurrent cell, `simple_rnn`, `lstm` or `gru`: always a hyperparameter of every task.

    Args:
        hp: the model's hyperparameters; `cell` is declared in them (default `lstm`).

    Returns:
        `simple_rnn`, `lstm` or `gru`.
    """
    return hp.Choice("cell", list(CELLS), default="lstm")


def recurrent(
    hp: kt.HyperParameters,
    units: int,
    *,
    name: str,
    return_sequences: bool = False,
    return_state: bool = False,
) -> keras.layers.Layer:
    """A `SimpleRNN`, `LSTM` or `GRU` layer, chosen by the `cell` hyperparameter.

    The LSTM and the GRU keep the settings that let Keras run them with the cuDNN kernel on
    a GPU (tanh/sigmoid, no recurrent dropout, `unroll=False`, bias, and for the GRU
    `reset_after=True`, the cuDNN variant of Cho et al. 2014's reset gate): any change here
    would silently fall back to the slow generic kernel. `unroll=True` is the one opt-out,
    for very short fixed-length sequences where unrolled graphs are faster on CPU.

    Args:
        hp: the model's hyperparameters; declares `cell` and `unroll` (fixed, default False).
        units: the layer's units (hidden state size).
        name: the layer's name, by which weights move on fine-tuning.
        return_sequences: output every step, (batch, time, units), not only the last.
        return_state: also return the final state(s): h for a SimpleRNN or a GRU, h and c
            for an LSTM.

    Returns:
        The layer, not yet called.
    """
    # not searched: unrolling changes speed, not quality, and needs a fixed sequence length
    unroll = hp.Fixed("unroll", False)
    cell = cell_type(hp)
    kwargs: dict[str, object] = dict(
        return_sequences=return_sequences, return_state=return_state, unroll=unroll, name=name
    )
    if cell == "gru":
        kwargs["reset_after"] = True
    if cell in ("lstm", "gru"):
        kwargs.update(recurrent_activation="sigmoid", recurrent_dropout=0.0, use_bias=True)
    return recurrent_class(cell)(units, activation="tanh", **kwargs)


def maybe_bidirectional(
    hp: kt.HyperParameters, layer: keras.layers.Layer, *, default: bool
) -> keras.layers.Layer:
    """Wrap `layer` in `Bidirectional` when the `bidirectional` hyperparameter says so.

    Args:
        hp: the model's hyperparameters; declares `bidirectional`.
        layer: a recurrent layer, not yet called.
        default: the hyperparameter's default.

    Returns:
        `Bidirectional(layer)` named `bi_<name>` (outputs of both directions concatenated,
        2 * units wide), or `layer` itself.
    """
    if hp.Boolean("bidirectional", default=default):
        return keras.layers.Bidirectional(layer, name=f"bi_{layer.name}")
    return layer


def lower_layers(
    hp: kt.HyperParameters, x: keras.KerasTensor, units: int, *, name: str, bidirectional: bool
) -> keras.KerasTensor:
    """The `layers - 1` sequence-returning recurrent layers stacked below a task's top
    recurrent layer: depth is a hyperparameter, and 1 (no extra layer) is the default.

    Between stacked layers, `layer_dropout` (default 0: none) drops whole feature channels
    of each layer's output sequence, the same ones at every time step: variational dropout
    on the next layer's inputs (Gal & Ghahramani 2016, https://arxiv.org/abs/1512.05287;
    Reimers & Gurevych 2017, https://arxiv.org/abs/1707.06799, for BiLSTM taggers), which
    leaves the recurrent layers themselves cuDNN-eligible.

    Args:
        hp: the model's hyperparameters; declares `layers` (1 to 3), and when a layer is
            made `layer_dropout`, and `bidirectional` if `bidirectional` is True.
        x: the sequence, (batch, time, features).
        units: units of each layer.
        name: name prefix: layers are `<name>_1`, `<name>_2`.
        bidirectional: let the `bidirectional` hyperparameter (default True) wrap each one.

    Returns:
        The sequence after the extra layers, (batch, time, units or 2 * units); `x` itself
        when `layers` is 1.
    """
    for depth in range(1, hp.Int("layers", 1, 3, default=1)):
        layer = recurrent(hp, units, name=f"{name}_{depth}", return_sequences=True)
        x = maybe_bidirectional(hp, layer, default=True)(x) if bidirectional else layer(x)
        rate = hp.Float("layer_dropout", 0.0, 0.5, step=0.05, default=0.0)
        if rate:  # no layer at 0: models saved before it keep their layer names and graph
            x = keras.layers.SpatialDropout1D(rate, name=f"{name}_{depth}_dropout")(x)
    return x


def output_layer(units: int, activation: str, name: str) -> keras.layers.Dense:
    """Output projection kept in float32 so that mixed precision on GPU stays stable.

    Args:
        units: output size (classes, tags or vocabulary ids).
        activation: e.g. `softmax` or `sigmoid`.
        name: the layer's name; a task's `head_layer`.

    Returns:
        A `Dense` layer with dtype float32, not yet called.
    """
    return keras.layers.Dense(units, activation=activation, dtype="float32", name=name)


def walk_layers(layer: keras.layers.Layer) -> Iterator[keras.layers.Layer]:
    """Every layer inside `layer`, depth first and each once, through public API only.

    Args:
        layer: a model, or any layer that holds others.

    Returns:
        An iterator over the layers of a model (`model.layers`, into nested models) and
        the layers held in public attributes (a `Bidirectional`'s `forward_layer` and
        `backward_layer`, a custom layer's own sub-layers such as `CharacterEncoder.rnn`),
        not `layer` itself.
    """
    seen = {id(layer)}

    def children(parent: keras.layers.Layer) -> list[keras.layers.Layer]:
        """The direct sub-layers of `parent`.

        Args:
            parent: a model or layer.

        Returns:
            A model's `layers`, or the layers held in a layer's public attributes.
        """
        if isinstance(parent, keras.Model):
            return parent.layers
        # a plain layer has no public list of sub-layers: those it holds in public attributes
        return [
            value
            for name, value in vars(parent).items()
            if not name.startswith("_") and isinstance(value, keras.layers.Layer)
        ]

    def walk(parent: keras.layers.Layer) -> Iterator[keras.layers.Layer]:
        """Depth-first walk below `parent`, skipping layers already seen.

        Args:
            parent: a model or layer.

        Returns:
            A generator of the layers below `parent`.
        """
        for child in children(parent):
            if id(child) not in seen:  # a shared layer is visited once
                seen.add(id(child))
                yield child
                yield from walk(child)

    return walk(layer)


def _check_unroll(model: keras.Model, hp: kt.HyperParameters) -> None:
    """`unroll=True` copies the cell once per time step into the graph, so the number of steps
    must be known when the model is built; variable-length tasks pad per batch and cannot."""
    if not hp.values.get("unroll"):
        return
    for layer in walk_layers(model):
        if not isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)):
            continue
        try:
            sequences = keras.tree.flatten(layer.input)[0]
        except AttributeError:  # never called on a symbolic input (the inner layers of a wrapper)
            continue
        if sequences.shape[1] is None:
            raise ZooError(
                f"unroll=true needs a fixed number of time steps, but layer {layer.name!r} of {model.name} reads "
                "variable-length sequences. Unrolling pays off only for short fixed-length inputs (one-to-one "
                "with `steps`, the adding benchmark at T <= ~50); leave unroll=false here."
            )


def compile_model(
    model: keras.Model,
    hp: kt.HyperParameters,
    *,
    loss: str | keras.losses.Loss,
    metrics: list | None = None,
    weighted_metrics: list | None = None,
    learning_rate: float = 1e-3,
) -> keras.Model:
    """Adam (or SGD with momentum) with gradient clipping by norm, on by default: SimpleRNNs
    explode without it.

    Clipping by global norm follows Pascanu et al. 2013, "On the difficulty of training
    recurrent neural networks" (https://arxiv.org/abs/1211.5063); `zoo diagnose gradients`
    recommends a value. SGD with momentum and an inverse-time learning-rate decay is the
    recipe of the sequence-labelling literature (Ma & Hovy 2016, https://arxiv.org/abs/1603.01354:
    momentum 0.9, rate / (1 + 0.05 * epoch); Lample et al. 2016 used plain SGD): set
    `optimizer=sgd` with a larger `learning_rate` than Adam's, e.g. 0.01-0.05.

    Args:
        model: the built model.
        hp: the model's hyperparameters; declares `learning_rate` (1e-4 to 3e-2, log) and
            `clipnorm` (0.1 to 10, log, default 1.0), which are searched, and `optimizer`
            (`adam` or `sgd`, default `adam`), `lr_decay` (default 0: a constant rate) and,
            for SGD, `momentum` (default 0.9), which are not searched unless a search asks
            (`--choice`). `lr_decay` is Keras' `InverseTimeDecay` rate per 1,000 updates:
            the rate after `t` updates is `learning_rate / (1 + lr_decay * t / 1000)`.
            `ema_momentum` (default 0: off, not searched) keeps an exponential moving average
            of the weights, updated every step with that momentum (Keras's `use_ema`); the
            average is what training validates and keeps. Reads `unroll`.
        loss: the Keras loss.
        metrics: Keras metrics, unweighted.
        weighted_metrics: Keras metrics weighted by the sample weights (padding weighs 0).
        learning_rate: the default of the `learning_rate` hyperparameter.

    Returns:
        `model`, compiled.

    Raises:
        UnknownNameError: `optimizer` is not one of `zoo.constants.OPTIMIZERS`.
        ZooError: `unroll` is true and a recurrent layer reads a variable number of steps,
            `lr_decay` is negative or `ema_momentum` is not in [0, 1).
    """
    _check_unroll(model, hp)
    # searched ones first: declaring these two before the others keeps earlier searches' draws
    rate: float | keras.optimizers.schedules.LearningRateSchedule = hp.Float(
        "learning_rate", 1e-4, 3e-2, sampling="log", default=learning_rate
    )
    clipnorm = hp.Float("clipnorm", 0.1, 10.0, sampling="log", default=1.0)
    name = hp.Fixed("optimizer", "adam")
    if name not in OPTIMIZERS:
        raise UnknownNameError("optimizer", name, OPTIMIZERS)
    decay = hp.Fixed("lr_decay", 0.0)
    if decay < 0:
        raise ZooError(
            f"lr_decay must be 0 or more, not {decay}: --set lr_decay=0.05, for example."
        )
    if decay:
        rate = keras.optimizers.schedules.InverseTimeDecay(rate, decay_steps=1000, decay_rate=decay)
    # Polyak averaging (Polyak & Juditsky 1992): the optimizer keeps an exponential moving
    # average of the weights, which `zoo.training.fit` validates and keeps; 0 (default): off
    ema = hp.Fixed("ema_momentum", 0.0)
    if not 0 <= ema < 1:
        raise ZooError(
            f"ema_momentum must be in [0, 1), not {ema}: --set ema_momentum=0.99, for example."
        )
    averaging = dict(use_ema=True, ema_momentum=ema) if ema else {}
    if name == "sgd":
        momentum = hp.Fixed("momentum", 0.9)
        optimizer = keras.optimizers.SGD(
            learning_rate=rate, momentum=momentum, clipnorm=clipnorm, **averaging
        )
    else:
        optimizer = keras.optimizers.Adam(learning_rate=rate, clipnorm=clipnorm, **averaging)
    model.compile(
        optimizer=optimizer, loss=loss, metrics=metrics, weighted_metrics=weighted_metrics
    )
    return model


def sequence_summary(pooling: str, rnn_output: keras.KerasTensor) -> keras.KerasTensor:
    """One vector per sequence: `last` keeps the recurrent layer's final state (it was built
    without `return_sequences`); `max` and `mean` pool its per-step outputs, masks respected.

    Args:
        pooling: `last`, `max` or `mean` (any other value acts as `last`).
        rnn_output: (batch, units) for `last`, else (batch, time, units) with its mask.

    Returns:
        (batch, units): `rnn_output` itself for `last`, else the output of a layer named
        `max_pool` or `mean_pool`.
    """
    if pooling == "max":
        return MaskedGlobalMaxPooling1D(name="max_pool")(rnn_output)
    if pooling == "mean":
        return keras.layers.GlobalAveragePooling1D(name="mean_pool")(rnn_output)
    return rnn_output


def weighted_layers(model: keras.Model) -> dict[str, keras.layers.Layer]:
    """Every layer with weights, by name, looking inside sub-models (encoder, decoder).

    Args:
        model: a Keras model.

    Returns:
        Layer name -> layer, for every layer that has weights; a `Bidirectional` or a custom
        layer counts as one (its inner layers are not listed).
    """
    found: dict[str, keras.layers.Layer] = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found.update(weighted_layers(layer))
        elif layer.weights:
            found[layer.name] = layer
    return found


def transfer_weights(
    parent: keras.Model,
    child: keras.Model,
    *,
    skip: set[str],
    new_rows_from: int | None = None,
) -> list[str]:
    """Copy the parent's weights into the child by layer name; returns the layers copied.

    A weight that grew (a vocabulary gained ids) gets the parent's values in its leading
    rows or columns and keeps the child's fresh values in the rest, except the new rows of
    an embedding matrix when `new_rows_from` is given.

    Args:
        parent: the trained model.
        child: a model built with the same hyperparameters, perhaps larger vocabularies.
        skip: layer names not to copy (e.g. a replaced head).
        new_rows_from: the id whose parent row every new row of a grown embedding matrix
            (a variable named `embeddings`, word or character) starts as, e.g. the
            `[UNK]` id; None: fresh values.

    Returns:
        The names of the layers copied. Layers missing from the parent, or holding another
        number of weights, are left as they are.

    Raises:
        ZooError: a parent weight does not fit (another rank, or larger along an axis).
    """
    theirs = weighted_layers(parent)
    copied = []
    for name, layer in weighted_layers(child).items():
        if name in skip or name not in theirs or len(theirs[name].weights) != len(layer.weights):
            continue
        values = []
        paths = [w.path for w in layer.weights]
        for old, new, path in zip(
            theirs[name].get_weights(), layer.get_weights(), paths, strict=True
        ):
            if old.shape != new.shape:
                if old.ndim != new.ndim or any(
                    o > n for o, n in zip(old.shape, new.shape, strict=True)
                ):
                    raise ZooError(
                        f"layer {name!r}: parent weight {old.shape} does not fit {new.shape}; "
                        "the hyperparameters of parent and child differ."
                    )
                grown = new.copy()
                grown[tuple(slice(0, o) for o in old.shape)] = (
                    old  # a vocabulary grew: known ids first
                )
                embedding_rows = path.endswith("embeddings") and old.shape[1:] == new.shape[1:]
                if new_rows_from is not None and embedding_rows:
                    grown[old.shape[0] :] = old[new_rows_from]
                old = grown
            values.append(np.asarray(old))
        layer.set_weights(values)
        copied.append(name)
    return copied
