"""A copy of a model with fixed input shapes, its recurrent loops unrolled or not.

Runtimes that run only a fixed set of built-in ops (LiteRT) cannot run the while loop a
Keras recurrent layer becomes (`TensorListReserve`, `TensorListSetItem`): at a static time
length with `unroll=True` the loop is one copy of the cell per step, built-in ops only. The
copy has the same weights, moved by layer name, and gives the same outputs on right-padded
inputs of that length.
"""

from __future__ import annotations

from typing import Any

import keras

from zoo.errors import ZooError
from zoo.models.layers import transfer_weights, walk_layers, weighted_layers


def _with_input_shapes(config: Any, shapes: dict[str, tuple[int | None, ...]]) -> Any:
    """`config` (a functional model's) with the `batch_shape` of the named input layers
    replaced by `(None, *shape)`; everything else unchanged."""
    if isinstance(config, list):
        return [_with_input_shapes(item, shapes) for item in config]
    if not isinstance(config, dict):
        return config
    if config.get("class_name") == "InputLayer" and config["config"].get("name") in shapes:
        shape = shapes[config["config"]["name"]]
        return {**config, "config": {**config["config"], "batch_shape": (None, *shape)}}
    return {key: _with_input_shapes(value, shapes) for key, value in config.items()}


def fixed_copy(
    model: keras.Model, shapes: dict[str, tuple[int | None, ...]], *, unroll: bool
) -> keras.Model:
    """`model` rebuilt with the given input shapes, with its recurrent layers unrolled or not.

    Unrolled, a backward layer keeps the outputs of masked steps as they are, rather than zeroing
    them: Keras 3.15's unrolled loop zeroes them by the mask in forward order while the
    outputs are in backward order, which zeroes real steps of a padded row. On
    right-padded rows the masked steps come first going backwards, so their outputs are
    zeros anyway, as in the loop that is not unrolled.

    Args:
        model: a functional model (or sub-model) whose inputs have unknown axes.
        shapes: input name -> its shape without the batch axis, for each input whose shape
            changes (others keep theirs).
        unroll: set `unroll=True` on every recurrent layer (inside wrappers and custom
            layers too); every input axis but the batch must then be known.

    Returns:
        A new functional model with those input shapes and `model`'s weights.

    Raises:
        ZooError: unrolling, and an input of the copy still has an unknown axis besides the
            batch; or a layer of `model` could not be given its weights.
    """
    copy = type(model).from_config(_with_input_shapes(model.get_config(), shapes))
    unknown = [i.name for i in copy.inputs if None in i.shape[1:]]
    if unroll and unknown:
        raise ZooError(
            f"{model.name}: inputs {', '.join(unknown)} still have unknown axes; give their "
            "fixed shapes to unroll the model."
        )
    missing = set(weighted_layers(model)) - set(transfer_weights(model, copy, skip=set()))
    if missing:
        raise ZooError(f"{model.name}: no weights moved to {', '.join(sorted(missing))}.")
    for layer in walk_layers(copy) if unroll else ():
        if isinstance(layer, keras.layers.RNN):
            layer.unroll = True
            if layer.go_backwards:
                layer.zero_output_for_mask = False
    return copy
