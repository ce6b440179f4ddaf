"""Stateful streaming: read an input of any length in chunks, carrying the hidden state.

A recurrent model trained on whole sequences can read a long input piece by piece if its
recurrent layers run forwards only: a stateful copy (a batch of one, the same weights)
starts each chunk from the state the previous chunk ended in, so the output after the
last chunk equals the output on the whole sequence, with no length limit and memory
bounded by one chunk. This is Keras' `stateful=True`, used where it makes sense: at
inference on long or live inputs. Training stays stateless, since the zoo's examples are
independent sequences.
"""

from __future__ import annotations

import keras

from zoo.errors import ZooError


def _stateful(layer: keras.layers.Layer) -> keras.layers.Layer:
    if isinstance(layer, keras.layers.Bidirectional):
        raise ZooError(
            f"layer {layer.name!r} is bidirectional: it needs the whole sequence before its first output, so it "
            "cannot stream. Train a streaming model with --set bidirectional=false."
        )
    if isinstance(layer, keras.layers.RNN):
        return layer.__class__.from_config({**layer.get_config(), "stateful": True})
    return layer.__class__.from_config(layer.get_config())


def stateful_copy(model: keras.Model) -> keras.Model:
    """The same model and weights, reading a batch of one with every recurrent layer stateful.

    Each call starts from the state the previous call ended in; a fresh copy starts from
    zeros.

    Args:
        model: a functional model whose recurrent layers run forwards only. Only its own
            layers are seen: a nested sub-model is copied from its config, stateless.

    Returns:
        A copy with inputs of batch size 1, `stateful=True` on every `keras.layers.RNN`
        layer, every other layer rebuilt from its config, and `model`'s weights.

    Raises:
        ZooError: a layer is `Bidirectional` (it needs the whole sequence first).
    """
    inputs = [
        keras.Input(batch_shape=(1, *tensor.shape[1:]), dtype=tensor.dtype, name=tensor.name)
        for tensor in model.inputs
    ]
    copy = keras.models.clone_model(
        model, input_tensors=inputs if len(inputs) > 1 else inputs[0], clone_function=_stateful
    )
    copy.set_weights(model.get_weights())
    return copy
