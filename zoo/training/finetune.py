"""Fine-tune a registry model on new data: continue training, or swap the output head.

Policy, the same for every task:

- **Vocabularies grow, known ids stay.** The new data's vocabulary (words, characters,
  target words) is fitted as for training from scratch; words the parent does not know
  are appended after its own, so every known word keeps its id and its trained
  embedding row, and new words start from fresh random rows. Nothing is dropped, and
  a word seen once in the new data is enough (fine-tuning data is usually small).
- **Labels.** When the new data has the parent's label set (in any order), the parent's
  order and output head are kept and training continues; the data reaches the model by
  label name, so its own id order does not matter. Otherwise the head (the task's
  `head_layer`) is replaced by a new one for the new labels: it is trained alone for
  `head_epochs` while everything else is frozen, then everything is trained together.
- **New words start as the parent's `[UNK]`.** The parent read every word it did not know
  as `[UNK]` (and trained that row through word dropout), so a new word's embedding row
  starts as the `[UNK]` row, and characters the same: before the first update the child
  reads the new data exactly as the parent did, and fine-tuning moves the new rows from
  there rather than from noise.
- **A new head is eased in.** A replaced head trains alone for `head_epochs`; then the
  layers below it are unfrozen one at a time from the top, one epoch each (ULMFiT's
  gradual unfreezing, Howard & Ruder 2018, https://arxiv.org/abs/1801.06146), so the
  error of a half-trained head reaches the lowest layers last; then everything trains.
- **Early stopping on the new data's validation split** (a seeded one when it has none),
  patience `DEFAULT_PATIENCE` epochs unless told, keeping the best epoch: small data
  overfits within a few epochs.
- **Label schemes** (a tagger's IOB1, IOB2 or BIOES) are the new data's: the model learns
  the tags as the data writes them, predicts them so, and is scored by that scheme's rules;
  a kept head learns where the new scheme puts its `B-` tags.
- **Freezing.** `freeze_encoder=True` keeps every layer except the head frozen throughout.
- **Fixed contracts** (image shape, maximum lengths, languages) stay the parent's.

Weights move by layer name, never by position; a weight whose shape grew with a
vocabulary keeps the parent's values in its leading rows (or columns).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from zoo import registry
from zoo.data.preprocessing import UNK_ID
from zoo.models.layers import transfer_weights, weighted_layers
from zoo.tasks.base import DatasetSpec, hyperparameters
from zoo.training.fit import (
    TrainResult,
    configure_devices,
    finish,
    fit_model,
    load_and_adapt,
    training_seconds,
)

#: early-stopping patience of fine-tuning when none is given, in epochs
DEFAULT_PATIENCE = 3


def _set_trainable(model: keras.Model, trainable: set[str] | None) -> None:
    """Make only the named layers trainable (None: all) and recompile; nothing when that is
    already so (a recompile starts the optimizer afresh)."""
    wanted = {
        layer: trainable is None or layer.name in trainable
        for layer in weighted_layers(model).values()
    }
    if all(layer.trainable == on for layer, on in wanted.items()):
        return
    for layer, on in wanted.items():
        layer.trainable = on
    # trainability takes effect on compile; the loss object stays the model's own (a CRF's
    # loss holds its layer, which a loss rebuilt from the config would lack)
    settings = {
        key: keras.saving.deserialize_keras_object(value)
        for key, value in model.get_compile_config().items()
        if key != "loss"
    }
    model.compile(loss=model.loss, **settings)


def unfreezing_stages(model: keras.Model, head: str) -> list[set[str]]:
    """The trainable layers of each epoch of gradual unfreezing, after the head's own.

    Args:
        model: the model being fine-tuned.
        head: the name of its (new) output layer.

    Returns:
        The head with the top layer below it, then with the top two, ... up to every layer
        but the lowest (the next phase trains them all); empty for a model with one layer
        below its head. Layers are ordered as the model applies them (sub-models in order).
    """
    below = [name for name in reversed(list(weighted_layers(model))) if name != head]
    return [{head, *below[:k]} for k in range(1, len(below))]


#: what a parent's recipe changes for a short run on small data: no moving average of the
#: weights. The parent's momentum M was sized to its own long run; over a few hundred
#: updates an average of the last ~1/(1-M) would stay near the first steps' weights, a new
#: head near its initialisation (benchmarks/retrain_small.py with a two-layer NER parent of
#: M=0.999: test F1 0.50 on 500 sentences, where the one-layer parent without one reaches 0.86)
SMALL_DATA_OVERRIDES: dict[str, Any] = {"ema_momentum": 0.0}


def retrain(
    ref: str,
    dataset: str | DatasetSpec,
    *,
    epochs: int | None = None,
    head_epochs: int = 2,
    gradual_unfreezing: bool = True,
    freeze_encoder: bool = False,
    batch_size: int | None = None,
    seed: int = 0,
    patience: int | None = None,
    root: str | Path | None = None,
    verbose: int | str = "auto",
) -> TrainResult:
    """Fine-tune registry model `ref` on `dataset` (a task dataset key or files prepared by
    `zoo.data.formats.prepare`); the result records its parent for `zoo.registry.store.save`.

    The model is rebuilt with the parent's hyperparameters on the merged preprocessing
    (words seen once in the new data are enough to be added) and takes the parent's weights
    by layer name, except a replaced head's. A parent's moving average of the weights
    (`ema_momentum`) is not carried over: fine-tuning trains the weights themselves.

    Args:
        ref: the parent: `NAME`, `NAME@VERSION` or `NAME:ALIAS`.
        dataset: a key of the parent task's datasets, or a `DatasetSpec`.
        epochs: epochs of the main phase (default: the task's `default_epochs`).
        head_epochs: epochs that train a replaced head alone first; 0 skips that phase.
            Not used when the head is kept, or with `freeze_encoder`.
        gradual_unfreezing: after a replaced head's own epochs, unfreeze the layers below
            it one per epoch from the top (`unfreezing_stages`). Not used when the head is
            kept, or with `freeze_encoder`.
        freeze_encoder: train only the head layer; every other weighted layer is frozen.
        batch_size: default: the parent's training batch size.
        seed: seeds Python, NumPy and TensorFlow and the shuffle.
        patience: early-stopping patience of the main phase, in epochs, on the data's
            validation split; None: `DEFAULT_PATIENCE`; 0: no early stopping.
        root: one registry folder to read alone (default: the local registries, then the hubs).
        verbose: Keras' progress output.

    Returns:
        The `TrainResult`: the parent's hyperparameters, the merged preprocessing, the
        history of both phases, and `retrain` (parent `name@version`, whether the head was
        replaced, vocabulary added, layers copied, and the parent's and the new label
        scheme where they differ).

    Raises:
        UnknownNameError: an unknown model, version, alias, dataset or split.
        IntegrityError: the parent fails its checks on load.
        DatasetUnavailableError: the dataset cannot be prepared here.
        DivergedError: the loss became NaN or infinite.
        ZooError: a parent weight that does not fit the new model, or as `zoo.train` (no
            vocabulary to learn, a disk error while training).
    """
    keras.utils.set_random_seed(seed)
    configure_devices()
    parent = registry.load(ref, root=root)
    task = type(parent.task)()
    task.min_word_count = 1  # fine-tuning data is small: a new word seen once is still worth adding
    spec = task.dataset(dataset)
    # the new data is cut into units as the parent's was (a card older than an option
    # lacks it: the parent's preprocessing says which it used)
    hp = {
        **parent.task.preprocessing.fitting_options(),
        **task.card_hyperparameters(parent.card.hyperparameters),
        **SMALL_DATA_OVERRIDES,
    }
    chosen = hyperparameters(hp)  # one object: adapt and the builder both declare in it
    train_raw, val_raw = load_and_adapt(task, spec, chosen)
    task.preprocessing, changes = parent.task.preprocessing.merged_with(task.preprocessing)
    # seeded again: preparing the dataset draws random numbers only where it was not prepared
    keras.utils.set_random_seed(seed)
    model = task.build_checked(chosen)
    head = task.head_layer
    copied = transfer_weights(
        parent.model,
        model,
        skip={head} if changes["labels_replaced"] else set(),
        new_rows_from=UNK_ID,
    )
    epochs = epochs or task.default_epochs
    patience = DEFAULT_PATIENCE if patience is None else patience
    batch_size = batch_size or parent.card.training.batch_size
    history: dict[str, list[float]] = {}
    fit = dict(batch_size=batch_size, seed=seed, verbose=verbose)

    def phase(trainable: set[str] | None, **options: int | None) -> None:
        _set_trainable(model, trainable)
        more = fit_model(task, model, train_raw, val_raw, **options, **fit)
        history.update({k: history.get(k, []) + v for k, v in more.items()})

    easing = changes["labels_replaced"] and not freeze_encoder
    # a random head would wreck the trained layers' weights: it learns alone first
    if easing and head_epochs > 0:
        phase({head}, epochs=head_epochs)
    stages = unfreezing_stages(model, head) if easing and gradual_unfreezing else []
    for trainable in stages:
        phase(trainable, epochs=1)
    phase({head} if freeze_encoder else None, epochs=epochs, patience=patience)
    seconds = training_seconds(history)
    details = {
        "parent": f"{parent.name}@{parent.version}",
        "head_replaced": changes["labels_replaced"],
        "head_epochs": head_epochs if easing else 0,
        "gradual_unfreezing": gradual_unfreezing,
        "unfreezing_epochs": len(stages),
        "freeze_encoder": freeze_encoder,
        "vocabulary_added": changes["vocabulary_added"],
        "layers_copied": len(copied),
        "labels": changes.get("labels"),
        "label_scheme": changes.get("label_scheme"),
    }
    return finish(
        task,
        model,
        spec,
        hp=hp,
        seed=seed,
        epochs=epochs,
        batch_size=batch_size,
        history=history,
        seconds=seconds,
        patience=patience,
        retrain=details,
    )
