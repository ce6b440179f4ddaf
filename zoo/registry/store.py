"""The registry over `saved_models/`: numbered immutable versions, aliases, integrity.

Layout: `<root>/<name>/<version>/` holds `model.keras`, `preprocessing.json` (vocabularies,
label names, shapes), the training curves, reference images where the task takes images,
`card.json` (machine-readable) and `README.md` (the model card); `<root>/<name>/aliases.json`
maps `latest`, `best` and the user's aliases to versions.

A version is written in a temporary folder and renamed into place, so a crash leaves the
old state or the new, never half a version; a file lock hands out version numbers, so
concurrent saves never collide. Loading checks every SHA-256, uses Keras safe mode and
re-runs the card's reference inputs before the model is handed out.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from filelock import FileLock

from zoo.constants import ALL_EXAMPLES
from zoo.errors import UnknownNameError, ZooError
from zoo.registry import cards
from zoo.tasks.base import DatasetSpec, Task, get_task
from zoo.training.fit import TrainResult

MODEL_FILE, PREPROCESSING_FILE, CARD_FILE, README_FILE, ALIASES_FILE = (
    "model.keras",
    "preprocessing.json",
    "card.json",
    "README.md",
    "aliases.json",
)
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9._-]*$")
_REF = re.compile(r"^(?P<name>[^@:]+)(?:@(?P<version>\d+)|:(?P<alias>[A-Za-z0-9._-]+))?$")
#: reference outputs are rounded to 4 decimals when predicted; allow a little more
_TOLERANCE = 2e-3


class IntegrityError(ZooError):
    """A registry file that is missing, altered or unsafe to load."""


#: the checkout's `saved_models/` (zoo/registry/store.py -> the repository root)
_CHECKOUT_MODELS = Path(__file__).resolve().parents[2] / "saved_models"


def default_root() -> Path:
    """`ZOO_REGISTRY`, else the `saved_models/` folder of this checkout.

    Returns:
        The registry folder; it need not exist yet.
    """
    return Path(os.environ.get("ZOO_REGISTRY") or _CHECKOUT_MODELS)


def sha256(path: Path) -> str:
    """The SHA-256 of a file's content, read in 1 MiB blocks.

    Args:
        path: the file.

    Returns:
        The digest as 64 lowercase hex characters.
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json_atomic(path: Path, payload: Any) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True)
    os.replace(handle.name, path)


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
    """
    return [
        str(folder / raw["image"]) if isinstance(raw, dict) else raw
        for raw in card.reference.inputs
    ]


def _read_card(path: Path) -> cards.ModelCard:
    """The card of version folder `path`."""
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
    """

    name: str
    version: int
    task: Task
    model: keras.Model
    card: cards.ModelCard

    def predict(self, raw: Any) -> Any:
        """One raw input (a string, a token list, an image path or array) -> one readable result.

        Args:
            raw: one input of the kind `task.input_description` names.

        Returns:
            The task's readable result for it, e.g. `{"label": "pos", "probability": 0.97}`.

        Raises:
            BadInputError: the task cannot read the input.
        """
        return self.task.predict(self.model, [raw])[0]

    def predict_batch(self, inputs: list[Any]) -> list[Any]:
        """Raw inputs -> readable results, in one batch.

        Args:
            inputs: inputs of the kind `task.input_description` names.

        Returns:
            One result per input, in order.

        Raises:
            BadInputError: the task cannot read an input.
        """
        return self.task.predict(self.model, inputs)

    def stream(self, chunks: Any, *, window: int | None = None) -> Any:
        """Read a long or live input chunk by chunk, carrying the hidden state (see
        `zoo.models.streaming`); yields the prediction on everything read so far.

        Args:
            chunks: text in reading order (e.g. the lines of a file), read lazily.
            window: tokens per window (default: the preprocessing's `max_tokens`).

        Returns:
            A generator of results, one per window (`SentimentAnalysis.stream`).

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
        from zoo.data import formats

        return formats.prepare(
            source["path"], source["format"], licence=recorded.licence, **source["options"]
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
            BadInputError: the recorded training files are gone, or the dataset lacks a
                feature the task reads (data of another task's kind).
        """
        dataset = dataset or self.training_dataset()
        split = split or self.evaluation_split(dataset)[0]
        batch_size = batch_size or self.card.training.batch_size
        return self.task.evaluate(self.model, self.task.load(dataset, split), batch_size=batch_size)


def _remove_abandoned_staging(folder: Path) -> None:
    """Delete staging folders left by saves whose process died (kill -9, power loss)."""
    for staging in folder.glob(".tmp-*"):
        pid = staging.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _versions(folder: Path) -> list[int]:
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())


def _aliases(folder: Path) -> dict[str, int]:
    path = folder / ALIASES_FILE
    return json.loads(path.read_text()) if path.exists() else {}


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
        root: the registry folder (default `default_root()`).
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
    if not _NAME.match(name):
        raise ZooError(
            f"invalid model name {name!r}: use lowercase letters, digits, '.', '_' and '-'."
        )
    folder = root / name
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
        card = cards.build(result, name)
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


def staging_folder(folder: Path) -> Path:
    """A fresh temporary folder beside a model's registry folder (hidden, in the registry's
    root), where a version is written before `publish` renames it into place; abandoned ones
    are cleaned up first. The model's own folder is made only by `publish`, so a save that
    fails leaves no model without versions behind.

    Args:
        folder: the model's registry folder, `<root>/<name>`.

    Returns:
        The staging folder.

    Args:
        folder: the model's registry folder, `<root>/<name>`; created if missing.

    Returns:
        A new `.tmp-<pid>-...` folder inside `folder`.

    Raises:
        ZooError: the registry folder cannot be written.
    """
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned_staging(folder.parent)
        if folder.is_dir():  # where earlier versions of the zoo staged
            _remove_abandoned_staging(folder)
        return Path(tempfile.mkdtemp(prefix=f".tmp-{os.getpid()}-", dir=folder.parent))
    except OSError as err:
        raise ZooError(
            f"cannot write to the registry at {folder}: {err.strerror}. Choose another with --registry or ZOO_REGISTRY."
        ) from err


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
        version = max(_versions(folder), default=0) + 1
        card = replace(card, version=version, files=files)
        (staging / CARD_FILE).write_text(json.dumps(card.to_json(), indent=2, sort_keys=True))
        (staging / README_FILE).write_text(card.readme())
        os.rename(staging, folder / str(version))
        aliases = _aliases(folder)
        if replaces is not None:
            aliases = {alias: version if v == replaces else v for alias, v in aliases.items()}
        aliases["latest"] = version
        best = aliases.get("best")
        if best is None or card.headline_value() > _read_card(folder / str(best)).headline_value():
            aliases["best"] = version
        _write_json_atomic(folder / ALIASES_FILE, aliases)
    return version


def set_alias(ref: str, alias: str, *, root: Path | str | None = None) -> Path:
    """Point `alias` (e.g. `production`) at the version `ref` resolves to.

    Args:
        ref: `NAME@VERSION`, `NAME:ALIAS`, or `NAME` (its `latest`).
        alias: a letter, then letters, digits, `.`, `_` or `-`; not `latest` or `best`,
            which the registry keeps.
        root: the registry folder (default `default_root()`).

    Returns:
        The version folder the alias now points at.

    Raises:
        ZooError: an invalid or reserved alias.
        UnknownNameError: `ref` does not resolve.
    """
    if not _ALIAS.match(alias) or alias in ("latest", "best"):
        raise ZooError(
            f"invalid alias {alias!r}: start with a letter, use letters, digits, '.', '_', '-'; 'latest' and 'best' are kept by the registry."
        )
    path = resolve(ref, root=root)
    with FileLock(str(path.parent / ".lock")):
        aliases = _aliases(path.parent)
        aliases[alias] = int(path.name)
        _write_json_atomic(path.parent / ALIASES_FILE, aliases)
    return path


def list_models(pattern: str = "*", *, root: Path | str | None = None) -> list[str]:
    """Model names matching a shell-style wildcard pattern.

    Args:
        pattern: a `fnmatch` pattern, e.g. `*lstm*`.
        root: the registry folder (default `default_root()`).

    Returns:
        The matching names of the folders in the registry, sorted (hidden ones skipped);
        empty when the registry folder does not exist.
    """
    root = Path(root or default_root())
    names = (
        sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if root.exists()
        else []
    )
    return [n for n in names if fnmatch.fnmatch(n, pattern)]


def resolve(ref: str, *, root: Path | str | None = None) -> Path:
    """`NAME`, `NAME@3` or `NAME:alias` -> the version folder.

    Args:
        ref: `NAME` (its `latest`), `NAME@VERSION` or `NAME:ALIAS`.
        root: the registry folder (default `default_root()`).

    Returns:
        `<root>/<name>/<version>`, an existing folder (not yet verified).

    Raises:
        UnknownNameError: a malformed reference, or no such model, alias or version.
    """
    root = Path(root or default_root())
    match = _REF.match(ref)
    if not match:
        raise UnknownNameError("model reference", ref, list_models(root=root))
    folder = root / match["name"]
    if not folder.is_dir():
        raise UnknownNameError("model", match["name"], list_models(root=root))
    if match["version"]:
        version = match["version"]
    else:
        alias = match["alias"] or "latest"
        aliases = _aliases(folder)
        if alias not in aliases:
            raise UnknownNameError(f"alias of {match['name']}", alias, aliases)
        version = str(aliases[alias])
    path = folder / version
    if not path.is_dir():
        raise UnknownNameError(f"version of {match['name']}", version, map(str, _versions(folder)))
    return path


def verify(path: Path) -> cards.ModelCard:
    """Check every file of a version folder against the SHA-256 recorded in its card.

    Args:
        path: a version folder, e.g. from `resolve`.

    Returns:
        The version's card.

    Raises:
        IntegrityError: the card is missing or unreadable, or a file it lists is missing
            or does not match its SHA-256.
    """
    card = _read_card(path)
    for filename, entry in card.files.items():
        file = path / filename
        if not file.is_file():
            raise IntegrityError(f"{file} is missing; reinstall or re-download this model version.")
        if sha256(file) != entry.sha256:
            raise IntegrityError(
                f"{file} does not match the SHA-256 in its card: it was altered or corrupted. Re-download or retrain it."
            )
    return card


def holds_string_ops(model: keras.Model) -> bool:
    """True for a model of the layout before rnn-zoo 0.2, whose text processing ran inside
    the Keras model (one of its inputs is a string tensor).

    Args:
        model: a loaded Keras model.

    Returns:
        Whether any of its inputs has dtype string.
    """
    return any(tensor.dtype == "string" for tensor in keras.tree.flatten(model.inputs))


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


def load(ref: str, *, root: Path | str | None = None) -> ZooModel:
    """Load a registry model by reference: hashes checked, Keras safe mode, reference
    inputs re-run and compared with the outputs recorded at save time.

    Args:
        ref: `NAME` (its `latest`), `NAME@VERSION` or `NAME:ALIAS`.
        root: the registry folder (default `default_root()`).

    Returns:
        The `ZooModel`, ready to `predict`.

    Raises:
        UnknownNameError: no such model, version or alias, or a card naming an unknown task.
        IntegrityError: a file is missing, altered, unsafe, or does not reproduce its outputs.
        ZooError: the version was saved in the layout before 0.2 (`zoo migrate` converts it),
            or its preprocessing file lacks a field.
    """
    path = resolve(ref, root=root)
    card = verify(path)
    task_cls = get_task(card.task)
    task = task_cls(
        task_cls.preprocessing_class.from_json(json.loads((path / PREPROCESSING_FILE).read_text()))
    )
    try:
        model = keras.saving.load_model(path / MODEL_FILE, compile=False, safe_mode=True)
    except (ValueError, TypeError, OSError) as err:
        raise IntegrityError(f"{path / MODEL_FILE} cannot be loaded safely: {err}") from err
    if holds_string_ops(model):
        raise ZooError(
            f"{card.name}@{card.version} was saved in an older layout (text processing inside the "
            f"model); convert it once with `zoo migrate {card.name}@{card.version}`."
        )
    reproduces_reference(task, model, card, path)
    return ZooModel(name=card.name, version=int(card.version), task=task, model=model, card=card)
