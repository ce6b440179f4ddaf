"""Move registry versions saved in an older layout into today's, as new versions.

Until this layout, text models held their string processing inside the Keras model
(`TextVectorization`, `StringLookup`): such a model cannot run under `MirroredStrategy` or
another Keras backend, and today's `predict` feeds it ids. `migrate` rebuilds the saved
graph with its string lookups taken out (each input that fed one now takes its ids; every
other layer, and every mask, stays as saved), moves the weights across by layer name,
checks that the new model reproduces the old one's reference outputs, and publishes it as
the next version of the same name; the aliases of the old version follow it. The old
version stays, as every version is immutable; delete it when it is no longer wanted.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import keras

from zoo.errors import ZooError
from zoo.models.layers import transfer_weights, weighted_layers
from zoo.registry import cards, packages, store
from zoo.tasks import get_task

#: files of a version that migration writes anew; every other file is carried over as is
_REWRITTEN = {store.MODEL_FILE, store.PREPROCESSING_FILE, store.CARD_FILE, store.README_FILE}


#: the layers that turned strings into ids inside old models
_STRING_LOOKUPS = ("TextVectorization", "StringLookup")


def _rewire(node: Any, moved: dict[str, list[Any]]) -> Any:
    """Every tensor in a layer's call arguments that came from a removed lookup now comes
    from the input that fed it, as int32 ids of the lookup's output shape."""
    if isinstance(node, (list, tuple)):
        return [_rewire(item, moved) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("class_name") == "__keras_tensor__" and node["config"]["keras_history"][0] in moved:
        source, shape = moved[node["config"]["keras_history"][0]]
        return {
            **node,
            "config": {
                **node["config"],
                "shape": shape,
                "dtype": "int32",
                "keras_history": [source, 0, 0],
            },
        }
    return {key: _rewire(value, moved) for key, value in node.items()}


def _history(tensor: dict[str, Any]) -> str:
    return tensor["config"]["keras_history"][0]


def _without_string_lookups(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """A functional model's config with its string lookups taken out, its nested models'
    too: each input that fed a lookup takes the lookup's ids instead. The rest of the
    graph, masks included, is kept exactly as saved.

    Returns:
        The new config, and the inputs whose type changed (name -> new batch shape).
    """
    layers = {layer["name"]: layer for layer in config["layers"]}
    moved: dict[str, list[Any]] = {}  # removed layer -> [the input that fed it, its output shape]
    retyped: dict[str, list[Any]] = {}  # input layer -> its new batch shape
    for layer in config["layers"]:
        if layer["class_name"] in _STRING_LOOKUPS:
            (tensor,) = layer["inbound_nodes"][0]["args"]
            source = _history(tensor)
            if layers[source]["class_name"] != "InputLayer":
                raise store.IntegrityError(
                    f"layer {layer['name']!r} reads {source!r}, not a model input; it cannot be migrated."
                )
            consumers = [
                t
                for other in config["layers"]
                for t in _tensors(other["inbound_nodes"])
                if _history(t) == layer["name"]
            ]
            moved[layer["name"]] = [source, consumers[0]["config"]["shape"]]
            retyped[source] = consumers[0]["config"]["shape"]
        elif layer["class_name"] == "Functional":
            layer["config"], inner = _without_string_lookups(layer["config"])
            # the outer inputs feeding a retyped inner input change type with it
            (arguments,) = [node["args"] for node in layer["inbound_nodes"]]
            declared = layer["config"]["input_layers"]
            declared = (
                [declared] if isinstance(declared[0], str) else declared
            )  # one input: [name, 0, 0]
            inputs = [name for name, _, _ in declared]
            for name, shape in inner.items():
                fed = _tensors(arguments)[inputs.index(name)]
                retyped[_history(fed)] = shape
                moved[_history(fed)] = [_history(fed), shape]
    kept = [
        _rewire(layer, moved)
        for layer in config["layers"]
        if layer["class_name"] not in _STRING_LOOKUPS
    ]
    for layer in kept:
        if layer["name"] in retyped:
            layer["config"].update(dtype="int32", batch_shape=retyped[layer["name"]])
    return {**config, "layers": kept}, retyped


def _tensors(node: Any) -> list[dict[str, Any]]:
    """The symbolic tensors in a (nested) structure of call arguments, in order."""
    if isinstance(node, (list, tuple)):
        return [t for item in node for t in _tensors(item)]
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            return [node]
        return [t for value in node.values() for t in _tensors(value)]
    return []


def unmigratable(model: keras.Model) -> str | None:
    """Why `migrate` cannot take the text processing out of a model that takes strings;
    None where it can.

    `migrate` takes out each `TextVectorization` or `StringLookup` that reads a model input
    (its vocabulary listed in the config or stored as a file in the archive, as the zoo
    saved them before 0.2). Any other way from strings to ids (a `Hashing` layer, a custom
    layer, a lookup behind another layer) would stay in the model.

    Args:
        model: a loaded model with at least one string input (`store.holds_string_ops`).

    Returns:
        One sentence that names what stays in the way, or None.
    """
    config = model.get_config()
    try:
        _, retyped = _without_string_lookups(config)
    except store.IntegrityError as err:
        return str(err)
    left = [
        layer["name"]
        for layer in config["layers"]
        if layer["class_name"] == "InputLayer"
        and layer["config"].get("dtype") == "string"
        and layer["name"] not in retyped
    ]
    if not left:
        return None
    return (
        f"string input(s) {', '.join(map(repr, left))} feed no TextVectorization or StringLookup, "
        "the only string layers it can take out."
    )


def migrate(ref: str, *, root: Path | str | None = None) -> Path | None:
    """Publish registry model `ref` in today's layout as its next version.

    Args:
        ref: `NAME`, `NAME@VERSION` or `NAME:ALIAS`.
        root: one registry folder to read alone (default: the local registries, then the hubs).

    Returns:
        The new version's folder, or None when `ref` is already in today's layout.

    Raises:
        IntegrityError: the version fails its hash check, its string processing is not
            one it can take out (`unmigratable`), a weighted layer finds no weights to take
            over, or the rebuilt model does not reproduce the reference outputs; nothing is
            written.
        ZooError: the registry cannot be written, or the version comes from an installed
            model package (`packages.refuse_writing`).
    """
    path = store.resolve(ref, root=root)
    card = store.verify(path)
    old = store.load_keras_file(path / store.MODEL_FILE)
    if not store.holds_string_ops(old):
        return None
    packages.refuse_writing(path, "migrate the version it was built from and package the result")
    reason = unmigratable(old)
    if reason is not None:
        raise store.IntegrityError(f"{card.name}@{card.version} cannot be migrated: {reason}")
    task_cls = get_task(card.task)
    task = task_cls(
        task_cls.preprocessing_class.from_json(
            json.loads((path / store.PREPROCESSING_FILE).read_text())
        )
    )
    config, _ = _without_string_lookups(old.get_config())
    model = keras.Model.from_config(config)
    copied = set(transfer_weights(old, model, skip=set()))
    missing = sorted(set(weighted_layers(model)) - copied)
    if missing:
        raise store.IntegrityError(
            f"{card.name}@{card.version}: no weights to take over for layer(s) "
            f"{', '.join(missing)}; it cannot be migrated."
        )
    outputs = store.reproduces_reference(task, model, card, path)
    staging = store.staging_folder(path.parent)
    try:
        for file in path.iterdir():
            if file.name not in _REWRITTEN:
                shutil.copy2(file, staging / file.name)
        model.save(staging / store.MODEL_FILE)
        (staging / store.PREPROCESSING_FILE).write_text(
            json.dumps(task.preprocessing.to_json(), indent=1)
        )
        card = replace(
            card,
            migrated_from=f"{card.name}@{card.version}",
            parameters=int(model.count_params()),
            reference=replace(card.reference, outputs=outputs),
            sequence_contract=replace(
                card.sequence_contract,
                inputs=cards.signature(model.inputs),
                outputs=cards.signature(model.outputs),
                preprocessing=task.preprocessing.summary(),
            ),
        )
        version = store.publish(staging, path.parent, card, replaces=int(path.name))
    except OSError as err:
        raise ZooError(
            f"migrating {ref} failed ({err.strerror or err}); the registry is unchanged."
        ) from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path.parent / str(version)
