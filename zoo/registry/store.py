"""The registry's store: numbered immutable versions, aliases, integrity, loading.

Layout: `<root>/<name>/<version>/` holds `model.keras`, `preprocessing.json` (vocabularies,
label names, shapes), the training curves, reference images where the task takes images,
`card.json` (machine-readable) and `README.md` (the model card); `<root>/<name>/aliases.json`
maps `latest`, `best` and the user's aliases to versions.

A version is written in a temporary folder and renamed into place, so a crash leaves the
old state or the new, never half a version; a file lock hands out version numbers, so
concurrent saves never collide. Loading checks every SHA-256, uses Keras safe mode and
re-runs the card's reference inputs before the model is handed out. Which folders are
read and written is `zoo.registry.layout`'s business; finding a model by name, downloading
it when needed, is `zoo.registry.hub`'s.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from filelock import FileLock

from zoo.constants import ALL_EXAMPLES
from zoo.errors import BadInputError, ZooError
from zoo.registry import cards, catalogue, layout, packages
from zoo.registry.hub import list_models, resolve
from zoo.registry.hub import pull as hub_pull
from zoo.registry.layout import (
    ALIASES_FILE,
    CARD_FILE,
    MODEL_FILE,
    PREPROCESSING_FILE,
    README_FILE,
    IntegrityError,
    default_root,
    sha256,
    staging_folder,
)
from zoo.tasks.base import DatasetSpec, Task, get_task
from zoo.training.fit import TrainResult

__all__ = [
    "ALIASES_FILE",
    "CARD_FILE",
    "MODEL_FILE",
    "PREPROCESSING_FILE",
    "README_FILE",
    "IntegrityError",
    "ZooModel",
    "default_root",
    "list_models",
    "load",
    "publish",
    "reference_inputs",
    "reproduces_reference",
    "resolve",
    "save",
    "set_alias",
    "sha256",
    "staging_folder",
    "verify",
]
#: reference outputs are rounded to 4 decimals when predicted; allow a little more
_TOLERANCE = 2e-3


def _as_json(value: Any) -> Any:
    """Predictions as they read back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return (
            isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= _TOLERANCE
        )
    return a == b


def _store_reference_inputs(inputs: list[Any], folder: Path) -> list[Any]:
    """Images go to lossless PNG files beside the card; text stays in the card."""
    stored = []
    for i, raw in enumerate(inputs):
        if isinstance(raw, np.ndarray):
            filename = f"reference_{i}.png"
            (folder / filename).write_bytes(tf.io.encode_png(raw).numpy())
            stored.append({"image": filename})
        else:
            stored.append(raw)
    return stored


def reference_inputs(card: cards.ModelCard, folder: Path) -> list[Any]:
    """The card's reference inputs, ready for `predict` (image files as paths).

    Args:
        card: a saved model's card.
        folder: its version folder, where reference images lie.

    Returns:
        One raw `predict` input per reference.

    Raises:
        IntegrityError: a reference image is not a plain file name of the folder.
    """
    for raw in card.reference.inputs:
        if isinstance(raw, dict) and not layout.FILE_NAME.match(str(raw.get("image"))):
            raise IntegrityError(
                f"{folder / CARD_FILE}: reference image {raw.get('image')!r} is not a file of "
                "the version folder; the version cannot be trusted."
            )
    return [
        str(folder / raw["image"]) if isinstance(raw, dict) else raw
        for raw in card.reference.inputs
    ]


def _read_card(path: Path) -> cards.ModelCard:
    """The card of version folder `path` (a plain file: a link could read outside it)."""
    if (path / CARD_FILE).is_symlink():
        raise IntegrityError(
            f"{path / CARD_FILE} is a link; a registry version holds plain files only."
        )
    try:
        return cards.ModelCard.from_json(json.loads((path / CARD_FILE).read_text()))
    except (OSError, ValueError) as err:  # ValueError: not JSON, or a CardError
        raise IntegrityError(
            f"{path / CARD_FILE} is missing or unreadable ({err}); the version cannot be trusted."
        ) from err


@dataclass
class ZooModel:
    """A loaded zoo model: `predict` takes raw inputs and returns readable outputs.

    Attributes:
        name: the registry name.
        version: the registry version.
        task: the task, with the model's fitted preprocessing.
        model: the Keras model (uncompiled), reading ids or images.
        card: the version's model card.
        path: the version's folder (None for a model not read from a registry).
    """

    name: str
    version: int
    task: Task
    model: keras.Model
    card: cards.ModelCard
    path: Path | None = None

    def predict(self, raw: Any, **options: Any) -> Any:
        """One raw input (a string, a token list, an image path or array) -> one readable result.

        Args:
            raw: one input of the kind `task.input_description` names.
            **options: options of the task's `predict`, e.g. `beam_width=1` or
                `return_attention=True` for the decoder tasks.

        Returns:
            The task's readable result for it, e.g. `{"label": "pos", "probability": 0.97}`.

        Raises:
            BadInputError: the task cannot read the input (or, with `return_attention`, its
                model does not attend).
        """
        return self.task.predict(self.model, [raw], **options)[0]

    def predict_batch(self, inputs: list[Any], **options: Any) -> list[Any]:
        """Raw inputs -> readable results, in one batch.

        Args:
            inputs: inputs of the kind `task.input_description` names.
            **options: options of the task's `predict`, as for `predict`.

        Returns:
            One result per input, in order.

        Raises:
            BadInputError: the task cannot read an input.
        """
        return self.task.predict(self.model, inputs, **options)

    def stream(self, chunks: Any, *, window: int | None = None) -> Any:
        """Read a long or live input chunk by chunk, carrying the hidden state (see
        `zoo.models.streaming`); yields the prediction on everything read so far.

        Args:
            chunks: text in reading order (e.g. the lines of a file), read lazily.
            window: tokens per window (default: the preprocessing's `max_tokens`).

        Returns:
            A generator of results, one per window (`TextClassification.stream`).

        Raises:
            ZooError: the task does not stream (only many-to-one does); a model with a
                bidirectional layer, once iteration starts.
            BadInputError: a model that pools with max or mean, once iteration starts.
        """
        if not hasattr(self.task, "stream"):
            raise ZooError(
                f"{self.name}: task {self.task.name} does not stream; streaming is for many-to-one models."
            )
        return self.task.stream(self.model, chunks, window=window)

    def training_dataset(self) -> str | DatasetSpec:
        """The dataset the model was trained on: a task dataset key, or files prepared again
        from the card's recorded source (relative paths are relative to the current folder).

        Returns:
            The task's dataset key, or the `DatasetSpec` of the files (stored once more only if
            their content changed).

        Raises:
            BadInputError: the recorded files are gone or no longer readable.
        """
        recorded = self.card.dataset
        source = recorded.source
        if source is None:
            return recorded.key
        from zoo.constants import CLASSIFICATION_FORMATS
        from zoo.data import formats

        options = dict(source["options"])
        if source["format"] in CLASSIFICATION_FORMATS:
            # a card older than stratified splits drew its validation split at random
            options.setdefault("stratify", False)
        return formats.prepare(
            source["path"], source["format"], licence=recorded.licence, **options
        )

    def evaluation_split(self, dataset: str | DatasetSpec) -> tuple[str, str]:
        """The split `evaluate` measures when none is given, and why.

        Args:
            dataset: a key of the task's datasets or a `DatasetSpec` (e.g. `zoo.prepare`'s).

        Returns:
            `(split, reason)`: `test` where the dataset has one; else `validation` of the
            dataset the model was trained on (its training split was learned from); else
            `all` (`ALL_EXAMPLES`): every example of data the model was not trained on, such
            as a user's own files.

        Raises:
            UnknownNameError: an unknown dataset key.
        """
        spec = self.task.dataset(dataset)
        if spec.test:
            return "test", "its test split"
        if spec.tfds_name == self.card.dataset.tfds_name:
            return "validation", "no test split; the model learned from its training split"
        return ALL_EXAMPLES, "no test split, and the model was trained on other data"

    def _refuse_own_files_split_otherwise(self, spec: DatasetSpec, split: str) -> None:
        """Refuse to measure a split of the model's own training files when the model's
        validation split was drawn from them by a seed (`seeded_split`) and they are now read
        with other options (another seed, encoding, columns): the examples are split
        otherwise, so any split but `train` holds examples the model trained on, and its
        score would be silently too high. (Splits given by file names stay apart however the
        files are read.) Cards older than the files' checksum (`content_sha256`) cannot tell.

        Raises:
            BadInputError: `spec` is that case and `split` is not `train`.
        """
        mine, theirs = self.card.dataset.source or {}, spec.source or {}
        own = mine.get("content_sha256")
        if split == "train" or spec.tfds_name == self.card.dataset.tfds_name or not own:
            return
        if "seeded_split" not in mine:
            return
        if own != theirs.get("content_sha256"):
            return
        read = theirs.get("options", {})
        differ = ", ".join(
            f"{key} {read.get(key)!r} (it was trained with {value!r})"
            for key, value in sorted(mine.get("options", {}).items())
            if read.get(key) != value
        )
        raise BadInputError(
            f"{theirs.get('path')} holds the files {self.name}@{self.version} was trained on, "
            f"read with other options: {differ or 'another reader version'}; their {split!r} "
            f"split would hold examples it trained on. Evaluate without --data (its own "
            f"split), or read the files with its options: {mine.get('options')}."
        )

    def evaluate(
        self,
        dataset: str | DatasetSpec | None = None,
        split: str | None = None,
        *,
        batch_size: int | None = None,
    ) -> dict[str, float]:
        """Metrics on a split of the training dataset (default) or of another dataset, such
        as a user's files (`zoo.prepare`). Labels and tags are matched by name: an example
        whose gold label the model does not know counts wrong, and their number is reported
        (`unknown_labels`, `unknown_tags`; `Task.unknown_labels` names them). The default
        batch size is the training one: padding differs with batching, and float round-off
        then moves a few borderline decisions.

        Args:
            dataset: a key of the task's datasets or a `DatasetSpec`; default: the training
                dataset (`training_dataset`).
            split: the split role: `train`, `validation`, `test` or `all` (every split
                together); default: `evaluation_split`'s.
            batch_size: default: the training batch size.

        Returns:
            Metric name -> value, as `Task.evaluate` gives them (full, not quick).

        Raises:
            UnknownNameError: an unknown dataset, or a split it does not have.
            DatasetUnavailableError: the dataset cannot be prepared here.
            BadInputError: the recorded training files are gone, the dataset lacks a
                feature the task reads (data of another task's kind), or it is the model's
                own training files read with other options (`_refuse_own_files_split_otherwise`).
        """
        dataset = dataset or self.training_dataset()
        split = split or self.evaluation_split(dataset)[0]
        self._refuse_own_files_split_otherwise(self.task.dataset(dataset), split)
        batch_size = batch_size or self.card.training.batch_size
        return self.task.evaluate(self.model, self.task.load(dataset, split), batch_size=batch_size)


def save(
    result: TrainResult,
    name: str | None = None,
    *,
    root: Path | str | None = None,
    artifacts: dict[str, Path] | None = None,
) -> Path:
    """Write `result` as the next version of `name`; `latest` points at it, `best` at the
    version with the highest validation headline metric. `artifacts` (file name -> path)
    are copied into the version and hashed with it, e.g. the record of a search.

    The Keras model is saved without its optimizer. The result's reference inputs are
    predicted now and stored with their outputs, which every `load` checks again.

    Args:
        result: a training result (`zoo.train`, `zoo.retrain`, a search's best model).
        name: the registry name: lowercase letters, digits, `.`, `_` and `-`, starting with
            a letter or digit. Default `<task>-<cell>-<dataset>` (e.g.
            `many-to-one-lstm-embedded`).
        root: the registry folder (default `default_root()`: the user registry, in a source
            checkout too).
        artifacts: file name -> path of extra files to copy into the version.

    Returns:
        The new version's folder, `<root>/<name>/<version>`.

    Raises:
        ZooError: an invalid name, or the registry cannot be written (it is left unchanged).
    """
    root = Path(root or default_root())
    name = (
        name
        or f"{result.task.name}-{result.hyperparameters.get('cell')}-{result.dataset}".replace(
            "/", "-"
        ).lower()
    )
    folder = root / layout.checked_name(name)
    staging = staging_folder(folder)
    try:
        # the same layers without the optimizer: a third of the size, and all that inference needs
        keras.Model(result.model.input, result.model.output, name=result.model.name).save(
            staging / MODEL_FILE
        )
        (staging / PREPROCESSING_FILE).write_text(
            json.dumps(result.task.preprocessing.to_json(), indent=1)
        )
        cards.plot_curves(result.history, result.task.headline_metric, staging / cards.CURVES_FILE)
        for filename, path in (artifacts or {}).items():
            shutil.copyfile(path, staging / filename)
        # a registry given otherwise than by default is named by the card's command
        named = root.resolve() if root.resolve() != default_root().resolve() else None
        card = cards.build(result, name, named)
        reference = cards.Reference(
            inputs=_store_reference_inputs(result.reference_inputs, staging),
            outputs=_as_json(result.task.predict(result.model, result.reference_inputs)),
        )
        version = publish(staging, folder, replace(card, reference=reference))
    except OSError as err:
        raise ZooError(
            f"saving {name} into {folder} failed ({err.strerror or err}); the registry is unchanged."
        ) from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder / str(version)


def publish(
    staging: Path, folder: Path, card: cards.ModelCard, *, replaces: int | None = None
) -> int:
    """Make the complete version in `staging` the next version of the model in `folder`.

    Files are hashed into the card, which is written with its README; then, under the
    model's lock, the folder is renamed into place in one step and the aliases follow:
    `latest` points at it, `best` at the version with the highest validation headline
    metric, and, with `replaces`, every alias of that version moves to the new one.

    Args:
        staging: a folder from `staging_folder`, holding every file of the version.
        folder: the model's registry folder, `<root>/<name>`.
        card: the version's card; its `files` and `version` are filled in here.
        replaces: a version this one supersedes (a migration).

    Returns:
        The new version number.

    Raises:
        OSError: a write failed; the registry is unchanged.
    """
    files = {
        f.name: cards.FileRecord(bytes=f.stat().st_size, sha256=sha256(f))
        for f in sorted(staging.iterdir())
    }
    folder.mkdir(exist_ok=True)
    with FileLock(str(folder / ".lock")):
        version = max(layout.versions(folder), default=0) + 1
        card = replace(card, version=version, files=files)
        (staging / CARD_FILE).write_text(json.dumps(card.to_json(), indent=2, sort_keys=True))
        (staging / README_FILE).write_text(card.readme())
        os.rename(staging, folder / str(version))
        aliases = layout.aliases(folder)
        if replaces is not None:
            aliases = {alias: version if v == replaces else v for alias, v in aliases.items()}
        aliases["latest"] = version
        best = aliases.get("best")
        if best is None or card.headline_value() > _read_card(folder / str(best)).headline_value():
            aliases["best"] = version
        layout.write_json_atomic(folder / ALIASES_FILE, aliases)
    return version


def set_alias(ref: str, alias: str, *, root: Path | str | None = None) -> Path:
    """Point `alias` (e.g. `production`) at the version `ref` resolves to.

    Args:
        ref: `NAME@VERSION`, `NAME:ALIAS`, or `NAME` (its `latest`).
        alias: a letter, then letters, digits, `.`, `_` or `-`; not `latest` or `best`,
            which the registry keeps.
        root: one registry folder to read alone (default: the local registries, then the hubs).

    Returns:
        The version folder the alias now points at.

    Raises:
        ZooError: an invalid or reserved alias, or a version from an installed model
            package (`packages.refuse_writing`).
        UnknownNameError: `ref` does not resolve.
    """
    if not layout.ALIAS.match(alias) or alias in ("latest", "best"):
        raise ZooError(
            f"invalid alias {alias!r}: start with a letter, use letters, digits, '.', '_', '-'; 'latest' and 'best' are kept by the registry."
        )
    path = resolve(ref, root=root)
    packages.refuse_writing(path, f"refer to it as {path.parent.name}@{path.name}")
    with FileLock(str(path.parent / ".lock")):
        aliases = layout.aliases(path.parent)
        aliases[alias] = int(path.name)
        layout.write_json_atomic(path.parent / ALIASES_FILE, aliases)
    return path


def verify(path: Path) -> cards.ModelCard:
    """Check every file of a version folder against the SHA-256 recorded in its card.

    Args:
        path: a version folder, e.g. from `resolve`.

    Returns:
        The version's card.

    Raises:
        IntegrityError: the card is missing or unreadable, or a file it lists is missing
            or does not match its SHA-256; for a version from an installed model package,
            any file its manifest lists (`packages.check`).
    """
    packages.check(path)
    card = _read_card(path)
    layout.check_files(path, {name: f.sha256 for name, f in card.files.items()}, "its card")
    return card


# What a `.keras` file of a model without assets holds besides its metadata
_CONFIG_MEMBER, _WEIGHTS_MEMBER = "config.json", "model.weights.h5"
# A member that would expand past this size, to more than this many times what it takes
# in the archive, is a decompression bomb (CWE-409): Keras's own loader refuses it with the
# same bounds (a stored member is about 1:1, DEFLATE cannot exceed about 1032:1)
_BOMB_FLOOR_BYTES, _BOMB_EXPANSION = 1 << 32, 100


def load_keras_file(path: Path) -> keras.Model:
    """Load a `.keras` file in Keras safe mode, without compiling it, so that no two of its
    objects can be mistaken for one another.

    `keras.saving.load_model` deserializes inside Keras's object-sharing scope, which keys
    the objects it has serialized by `id()`. Loading serializes short-lived objects (every
    `Bidirectional` rebuilds its forward layer from the config of a layer it then drops), so
    a later object that CPython places at a freed address is taken for the dead one and
    replaced by whatever was recorded under that address: a `Bidirectional` got another
    one's backward layer as its forward layer ("Forward layer and backward layer should have
    different `go_backwards` value", seen once in CI loading an NER model), or two layers
    silently share one. It depends on memory addresses, so it is rare and unrepeatable.
    The zoo's models share no object between layers, so their config is deserialized
    outside that scope (`keras.saving.deserialize_keras_object`, public) and the weights are
    read with `Model.load_weights`, which reads the same archive. A file with assets (the
    vocabularies of models saved before rnn-zoo 0.2) needs Keras's own loader, which reads
    them; those are only read by `zoo migrate`, whose result is checked against the
    reference outputs.

    Args:
        path: a `.keras` archive.

    Returns:
        The model, uncompiled, with its weights.

    Raises:
        ValueError, TypeError: the configuration names an unknown or unsafe object (e.g. a
            `Lambda` layer, refused in safe mode) or no model, the weights do not fit, or a
            member of the archive would expand more than 100-fold past 4 GiB (a
            decompression bomb, refused before anything is read, as Keras's loader does).
        OSError, zipfile.BadZipFile: the file is not a readable `.keras` archive.
    """
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.file_size > max(_BOMB_FLOOR_BYTES, _BOMB_EXPANSION * info.compress_size):
                raise ValueError(
                    f"{info.filename} in {path} would expand from {info.compress_size:,} to "
                    f"{info.file_size:,} bytes: refused as a decompression bomb"
                )
        members = set(archive.namelist())
        if not members <= {_CONFIG_MEMBER, _WEIGHTS_MEMBER, "metadata.json"}:
            return keras.saving.load_model(path, compile=False, safe_mode=True)
        config = json.loads(archive.read(_CONFIG_MEMBER))
    config["compile_config"] = None
    model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    if not isinstance(model, keras.Model):  # a config of something else deserializes too
        raise ValueError(f"{path} holds a {type(model).__name__}, not a Keras model")
    model.load_weights(path)
    return model


def holds_string_ops(model: keras.Model) -> bool:
    """True for a model of the layout before rnn-zoo 0.2, whose text processing ran inside
    the Keras model (one of its inputs is a string tensor).

    Args:
        model: a loaded Keras model.

    Returns:
        Whether any of its inputs has dtype string.
    """
    return any(tensor.dtype == "string" for tensor in keras.tree.flatten(model.inputs))


def _string_input_refusal(card: cards.ModelCard, model: keras.Model, path: Path) -> ZooError:
    """The refusal of a model that takes strings: the zoo's models take ids (their text
    processing is data, `preprocessing.json`). The layout before 0.2 held a
    `TextVectorization` or `StringLookup` at its inputs, which `zoo migrate` takes out;
    any other string processing it cannot, and saying `zoo migrate` there would be wrong."""
    from zoo.registry.migrate import unmigratable  # here: migrate imports this module

    ref = f"{card.name}@{card.version}"
    reason = unmigratable(model)
    if reason is None:
        return ZooError(
            f"{ref} was saved in an older layout (text processing inside the model); "
            f"convert it once with `zoo migrate {ref}`."
        )
    return ZooError(
        f"{ref} takes strings into its Keras model, which the zoo cannot run (its models take "
        f"token ids), and `zoo migrate` cannot convert it: {reason} Use it with Keras directly "
        f"(`keras.saving.load_model('{path / MODEL_FILE}')`), or train a zoo model on its data "
        "(`zoo train TASK --data PATH --format F`)."
    )


def reproduces_reference(
    task: Task, model: keras.Model, card: cards.ModelCard, path: Path
) -> list[Any]:
    """Predict the card's reference inputs and compare with the outputs recorded at save time.

    Numbers may differ by 2e-3 (the recorded outputs are rounded to 4 decimals); every
    other value must be equal.

    Args:
        task: the task, with the model's preprocessing.
        model: the Keras model.
        card: the version's card.
        path: the version folder, where reference images lie.

    Returns:
        The outputs, as they read back from JSON.

    Raises:
        IntegrityError: they differ by more than the rounding of the recorded outputs.
        BadInputError: a reference input cannot be read (e.g. a reference image is gone).
    """
    try:
        outputs = _as_json(task.predict(model, reference_inputs(card, path)))
    except (ValueError, TypeError, tf.errors.InvalidArgumentError) as err:
        # a model file that does not take the task's inputs (another input shape or dtype)
        outputs = f"an error: {str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__}"
    if not _close(outputs, card.reference.outputs):
        raise IntegrityError(
            f"{path / MODEL_FILE} does not reproduce its reference outputs (expected {card.reference.outputs}, "
            f"got {outputs}): the file or the installed libraries differ from those that saved it ({card.libraries})."
        )
    return outputs


def _download_again(
    path: Path, damage: IntegrityError, *, root: Path | str | None, hub: str | None
) -> Path:
    """A downloaded catalogue version that fails its hashes, fetched once more from the
    hubs; anything else damaged is the user's to repair.

    Raises:
        IntegrityError: `damage`, where the version is not a download (another registry, a
            model the user trained) or cannot be downloaded again; the message names the
            command that repairs it.
    """
    name, version = path.parent.name, int(path.name)
    is_download = (
        root is None
        and path.parent.parent == layout.user_root()
        and str(version) in catalogue.models().get(name, {}).get("versions", {})
    )
    if not is_download:
        raise damage
    try:
        return hub_pull(f"{name}@{version}", hub=hub)
    except ZooError as err:
        raise IntegrityError(
            f"{damage} It is a damaged download, and downloading it again failed ({err}); "
            f"run `zoo pull {name}@{version} --hub URL|DIR` to repair it."
        ) from err


def load(ref: str, *, root: Path | str | None = None, hub: str | None = None) -> ZooModel:
    """Load a registry model by reference: hashes checked, Keras safe mode, reference
    inputs re-run and compared with the outputs recorded at save time.

    Args:
        ref: `NAME` (its `latest`), `NAME@VERSION` or `NAME:ALIAS`.
        root: one registry folder to read alone; default: the local registries, then the
            hubs for a catalogue model (`zoo.registry.hub.resolve`).
        hub: hub sources before those of `ZOO_HUB`.

    Returns:
        The `ZooModel`, ready to `predict`.

    Raises:
        UnknownNameError: no such model, version or alias, or a card naming an unknown task.
        ZooError: a catalogue model that is not on disk and cannot be downloaded.
        IntegrityError: a file is missing, altered, unsafe, or does not reproduce its outputs
            (a damaged download is fetched again once first, where a hub is configured).
        ZooError: the model takes strings: saved in the layout before 0.2 (`zoo migrate`
            converts it), or with string processing `zoo migrate` cannot take out (the
            message says so); or its preprocessing file lacks a field.
    """
    path = resolve(ref, root=root, hub=hub)
    try:
        card = verify(path)
    except IntegrityError as err:
        path = _download_again(path, err, root=root, hub=hub)
        card = verify(path)
    task_cls = get_task(card.task)
    task = task_cls(
        task_cls.preprocessing_class.from_json(json.loads((path / PREPROCESSING_FILE).read_text()))
    )
    try:
        model = load_keras_file(path / MODEL_FILE)
    except (ValueError, TypeError, OSError, zipfile.BadZipFile) as err:
        raise IntegrityError(f"{path / MODEL_FILE} cannot be loaded safely: {err}") from err
    if holds_string_ops(model):
        raise _string_input_refusal(card, model, path)
    reproduces_reference(task, model, card, path)
    return ZooModel(
        name=card.name, version=int(card.version), task=task, model=model, card=card, path=path
    )
