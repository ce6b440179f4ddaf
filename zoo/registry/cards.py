"""Model cards: what a saved model records about itself, as JSON and as a README.

A card names the dataset (TFDS name, version, splits), the hyperparameters, metrics per
split, seed, library versions, the training command, the sequence contract, a reference
input with its outputs (re-checked on every load) and the training curves.

`ModelCard` is the one typed form of a card: `cards.build` makes it from a training
result, the registry fills in version, files and reference outputs, and writes
`card.json` (`ModelCard.to_json`) and `README.md` (`ModelCard.readme`) from it;
`ModelCard.from_json` reads `card.json` back. Reading is forward-compatible: entries a
newer zoo added are ignored, and entries an older zoo did not write take their defaults.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import shlex
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any, Self

import keras
import matplotlib

matplotlib.use("Agg")  # files only: no display is needed or wanted
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from zoo.data import loading  # noqa: E402
from zoo.data.formats import UNKNOWN_LICENCE  # noqa: E402
from zoo.errors import ZooError  # noqa: E402
from zoo.training.fit import TrainResult  # noqa: E402

CURVES_FILE = "training_curves.png"
SEARCH_FILE = "search.json"
LIBRARIES = ("tensorflow", "keras", "tensorflow-datasets", "keras-tuner")

#: field metadata: recorded since a later zoo, so older cards lack it; left out of the JSON
#: while unset, so that those cards write back exactly as they were read
_ADDED_LATER = {"added_later": True}
#: field metadata: set by the registry when it saves the card, so every `card.json` has it
_SET_ON_SAVE = {"set_on_save": True}


class CardError(ZooError, ValueError):
    """A `card.json` that is not a JSON object or lacks an entry every card has."""


def _required(field: dataclasses.Field) -> bool:
    no_default = (
        field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
    )
    return no_default or bool(field.metadata.get("set_on_save"))


def _known(cls: type, data: Any) -> dict[str, Any]:
    """The entries of `data` that `cls` has fields for; unknown ones (from a newer zoo) are dropped."""
    if not isinstance(data, Mapping):
        raise CardError(
            f"the card's {cls.__name__} must be a JSON object, not {type(data).__name__}."
        )
    fields = dataclasses.fields(cls)
    missing = [f.name for f in fields if f.name not in data and _required(f)]
    if missing:
        raise CardError(
            f"the card's {cls.__name__} lacks {', '.join(missing)}: the card is damaged or not a zoo card."
        )
    names = {f.name for f in fields}
    return {key: value for key, value in data.items() if key in names}


def _plain(value: Any) -> Any:
    """`value` as JSON data: records as objects, tuples as lists, containers copied."""
    if isinstance(value, _Record):
        return value.to_json()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


class _Record:
    """The JSON conversion shared by a card and its parts (frozen dataclasses)."""

    def to_json(self) -> dict[str, Any]:
        """The record as JSON data, in the layout of `card.json`.

        Returns:
            A new dict of JSON values; fields recorded only since a later zoo are left
            out while they are unset.
        """
        return {
            field.name: _plain(getattr(self, field.name))
            for field in dataclasses.fields(self)
            if not (field.metadata.get("added_later") and getattr(self, field.name) is None)
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """The record from its JSON data.

        Args:
            data: the record's object from `card.json`. Unknown keys are ignored; a
                missing key with a default takes it.

        Returns:
            The record.

        Raises:
            CardError: `data` is not an object, or lacks a key without a default.
        """
        return cls(**_known(cls, data))


@dataclasses.dataclass(frozen=True, kw_only=True)
class FileRecord(_Record):
    """One file of a saved version, as its card records it.

    Args:
        bytes: the file's size.
        sha256: the hex SHA-256 of its content, checked on every load.
    """

    bytes: int
    sha256: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class Reference(_Record):
    """Raw inputs saved with a model and its outputs for them, re-checked on every load.

    Args:
        inputs: raw `predict` inputs: text, token lists, or `{"image": file}` for an
            image stored beside the card.
        outputs: the model's readable outputs for them, as JSON data.
    """

    inputs: list[Any]
    outputs: list[Any]


@dataclasses.dataclass(frozen=True, kw_only=True)
class DatasetRecord(_Record):
    """The data a model was trained on.

    Args:
        key: the task's key for the dataset, or `"files"` for a dataset built from files.
        tfds_name: the TFDS builder's name.
        tfds_version: the builder's version.
        splits: TFDS split per role (`train`, `validation`, `test`; None where absent).
        fields: the task's roles in the dataset's features, where they vary.
        licence: the data's terms of use.
        source: for a dataset built from files, where they came from (path, format,
            options, SHA-256, split sizes); None for a TFDS dataset.
    """

    key: str
    tfds_name: str
    tfds_version: str
    splits: dict[str, str | None]
    fields: dict[str, Any]
    licence: str
    source: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainingRecord(_Record):
    """How a model was trained.

    Args:
        epochs: the epochs asked for.
        epochs_run: the epochs run (fewer after early stopping).
        patience: early-stopping patience, None without early stopping.
        batch_size: the training batch size.
        seed: the random seed.
        seconds: training wall time.
        history: per-epoch Keras logs (`loss`, `val_loss`, metrics).
        command: the `zoo` command that reproduces the model.
        precision_policy: the Keras dtype policy; None on cards that predate it.
        strategy: the distribution strategy; None on cards that predate it.
        replicas: the strategy's replica count; None on cards that predate it.
        backend: the Keras backend that trained it (`tensorflow`, `jax`); None on cards
            that predate it (all of them trained on TensorFlow).
    """

    epochs: int
    epochs_run: int
    patience: int | None
    batch_size: int
    seed: int
    seconds: float
    history: dict[str, list[float]]
    command: str
    precision_policy: str | None = dataclasses.field(default=None, metadata=_ADDED_LATER)
    strategy: str | None = dataclasses.field(default=None, metadata=_ADDED_LATER)
    replicas: int | None = dataclasses.field(default=None, metadata=_ADDED_LATER)
    backend: str | None = dataclasses.field(default=None, metadata=_ADDED_LATER)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SequenceContract(_Record):
    """Shapes, padding, masking, lengths and vocabularies a caller must respect.

    Args:
        inputs: the Keras model's inputs, each `{"name", "shape", "dtype"}`.
        outputs: the Keras model's outputs, likewise.
        padding: which side is padded, with which id, and how padding is masked.
        preprocessing: a summary of the fitted preprocessing: vocabulary sizes, maximum
            lengths, label names.
        predict_input: what `predict` takes, in words.
    """

    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    padding: str
    preprocessing: dict[str, Any]
    predict_input: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class RetrainRecord(_Record):
    """The lineage of a fine-tuned model (`zoo retrain`).

    Args:
        parent: the model it was fine-tuned from, as `name@version`.
        head_replaced: whether a new output head was built for a new label set.
        head_epochs: epochs that trained the new head alone before all layers.
        gradual_unfreezing: whether the layers below a new head were then unfrozen one per
            epoch from the top (None: a card older than the option).
        unfreezing_epochs: the epochs of that gradual unfreezing (None: older cards).
        freeze_encoder: whether only the head was trained.
        vocabulary_added: new entries per vocabulary.
        layers_copied: layers whose weights came from the parent.
        labels: for a replaced head, the parent's label names and the new ones (`parent`,
            `new`), with their label options where those differ (`parent_options`,
            `new_options`, e.g. multi-label); None for a kept head (or a card older than it).
        label_scheme: where the new data writes its labels in another scheme than the
            parent's (a tagger's IOB1, IOB2, BIOES), each one's (`parent`, `new`: field ->
            scheme); the model learned the new one. None where they agree (or older cards).
    """

    parent: str
    head_replaced: bool
    head_epochs: int
    freeze_encoder: bool
    vocabulary_added: dict[str, int]
    layers_copied: int
    labels: dict[str, Any] | None = dataclasses.field(default=None, metadata=_ADDED_LATER)
    label_scheme: dict[str, Any] | None = dataclasses.field(default=None, metadata=_ADDED_LATER)
    gradual_unfreezing: bool | None = dataclasses.field(default=None, metadata=_ADDED_LATER)
    unfreezing_epochs: int | None = dataclasses.field(default=None, metadata=_ADDED_LATER)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SearchRecord(_Record):
    """The keras-tuner search that found a model (`zoo tune`).

    Args:
        tuner: the tuner's name (`random`, `hyperband`, `bayesian`).
        objective: the validation metric the search maximised or minimised.
        best_trial: the id of the trial whose model was saved.
        completed: trials that completed.
        failed: trials that failed or were invalid.
        directory: the search folder.
    """

    tuner: str
    objective: str
    best_trial: str
    completed: int
    failed: int
    directory: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelCard(_Record):
    """What a saved model records about itself: written as `card.json` and `README.md`.

    `cards.build` makes the card of a trained model; the registry sets `version`, `files`
    and `reference` when it saves it (`dataclasses.replace`), and every `card.json` has them.

    Args:
        name: the model's registry name.
        task: the task's registry name.
        example: the task's example problem, in words.
        cell: the recurrent cell (`simple_rnn`, `lstm`, `gru`).
        parameters: the model's parameter count.
        dataset: the training data.
        hyperparameters: the model builder's hyperparameters.
        training: how it was trained.
        metrics: per split role, `{"split": <TFDS split>, <metric>: <value>, ...}`.
        headline_metric: the metric that ranks versions (`best`) and models.
        notes: what a reader must know about this architecture's options.
        sequence_contract: what a caller must respect.
        libraries: versions of Python and the libraries that trained it.
        parent: the model it was fine-tuned from (`name@version`), or None.
        retrain: the fine-tuning lineage, or None.
        search: the search that found it, or None.
        migrated_from: the version (`name@version`) of an older zoo layout this one was
            converted from by `zoo migrate`, or None.
        version: the registry version, None until saved.
        files: each saved file's size and SHA-256, empty until saved.
        reference: reference inputs and outputs, None until saved.
    """

    name: str
    task: str
    example: str
    cell: str | None
    parameters: int
    dataset: DatasetRecord
    hyperparameters: dict[str, Any]
    training: TrainingRecord
    metrics: dict[str, dict[str, Any]]
    headline_metric: str
    notes: str
    sequence_contract: SequenceContract
    libraries: dict[str, str]
    parent: str | None = None
    retrain: RetrainRecord | None = dataclasses.field(default=None, metadata=_ADDED_LATER)
    search: SearchRecord | None = dataclasses.field(default=None, metadata=_ADDED_LATER)
    migrated_from: str | None = dataclasses.field(default=None, metadata=_ADDED_LATER)
    version: int | None = dataclasses.field(default=None, metadata=_SET_ON_SAVE)
    files: dict[str, FileRecord] = dataclasses.field(default_factory=dict, metadata=_SET_ON_SAVE)
    reference: Reference | None = dataclasses.field(default=None, metadata=_SET_ON_SAVE)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """The card from the content of a `card.json`.

        Args:
            data: the parsed JSON object. Unknown keys, at any level, are ignored; keys
                that older cards lack (`retrain`, `search`, the training's
                `precision_policy`, `strategy`, `replicas`) take their defaults.

        Returns:
            The card.

        Raises:
            CardError: `data` or one of its parts is not an object, or lacks an entry
                every card has (among them `version`, `files` and `reference`).
        """
        values = _known(cls, data)
        values.update(
            dataset=DatasetRecord.from_json(values["dataset"]),
            training=TrainingRecord.from_json(values["training"]),
            sequence_contract=SequenceContract.from_json(values["sequence_contract"]),
            reference=Reference.from_json(values["reference"]),
            files={name: FileRecord.from_json(entry) for name, entry in values["files"].items()},
        )
        if values.get("retrain") is not None:
            values["retrain"] = RetrainRecord.from_json(values["retrain"])
        if values.get("search") is not None:
            values["search"] = SearchRecord.from_json(values["search"])
        return cls(**values)

    def headline_value(self, split: str = "validation") -> float:
        """The headline metric on one split.

        Args:
            split: the split role (`validation`, `test`).

        Returns:
            The value recorded at training time.

        Raises:
            KeyError: the card has no metrics for `split`.
        """
        return float(self.metrics[split][self.headline_metric])

    def readme(self) -> str:
        """The human-readable model card, the registry's `README.md`.

        Returns:
            Markdown text.

        Raises:
            ValueError: the card is not saved yet (no version, files or reference).
        """
        if self.version is None or self.reference is None:
            raise ValueError(
                f"the card of {self.name} has no version or reference yet: the registry sets them on save."
            )

        def fmt(value: Any) -> str:
            """A metric value for the table.

            Args:
                value: a metric value or the TFDS split name.

            Returns:
                Floats with 4 decimals, anything else as `str`.
            """
            return f"{value:.4f}" if isinstance(value, float) else str(value)

        # per-class scores and a confusion matrix get a table of their own below
        metrics = "\n".join(
            f"| {split} | `{values['split']}` | "
            + ", ".join(
                f"{k} {fmt(v)}"
                for k, v in values.items()
                if k != "split" and not isinstance(v, dict)
            )
            + " |"
            for split, values in self.metrics.items()
        )
        metrics += "".join(
            f"\n\nPer class, {split}:\n\n| class | precision | recall | F1 | support |\n|---|---|---|---|---|\n"
            + "\n".join(
                f"| {name} | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} | {s['support']:.0f} |"
                for name, s in values["per_class"].items()
            )
            for split, values in self.metrics.items()
            if values.get("per_class")
        )
        hp = "\n".join(f"| {k} | {v} |" for k, v in sorted(self.hyperparameters.items()))
        files = "\n".join(f"| {f} | {v.bytes:,} | `{v.sha256}` |" for f, v in self.files.items())
        contract = self.sequence_contract
        preprocessing = "\n".join(f"| {k} | {v} |" for k, v in contract.preprocessing.items())
        references = "\n".join(
            f"| `{i}` | `{o}` |"
            for i, o in zip(self.reference.inputs, self.reference.outputs, strict=True)
        )
        lineage = ""
        if self.retrain:
            retrain = self.retrain
            added = ", ".join(
                f"{n} {k.replace('_', ' ')} entries"
                for k, n in retrain.vocabulary_added.items()
                if n
            )
            lineage = (
                f"\nFine-tuned from `{retrain.parent}`: "
                + (
                    (
                        f"a new output head for the labels {', '.join(retrain.labels['new'])} "
                        f"(the parent's: {', '.join(retrain.labels['parent'])}), "
                        if retrain.labels
                        else "a new output head for a new label set, "
                    )
                    if retrain.head_replaced
                    else "same labels, "
                )
                + (f"{added} added" if added else "no new vocabulary")
                + (", encoder frozen" if retrain.freeze_encoder else "")
                + "".join(
                    f", {name} {retrain.label_scheme['parent'][name]} -> {value} (the data's)"
                    for name, value in (retrain.label_scheme or {"new": {}})["new"].items()
                )
                + ".\n"
            )
        if self.search:
            search = self.search
            lineage += (
                f"\nFound by a keras-tuner `{search.tuner}` search: best of {search.completed} completed trials "
                f"({search.failed} failed) on validation `{search.objective}`; every trial is in `{SEARCH_FILE}`.\n"
            )
        if self.migrated_from:
            lineage += (
                f"\nMigrated by `zoo migrate` from `{self.migrated_from}` (an older layout, with text processing inside "
                "the model): the same weights and outputs.\n"
            )
        libraries = ", ".join(f"{k} {v}" for k, v in self.libraries.items())
        dataset, training = self.dataset, self.training
        return f"""# {self.name} v{self.version}

{self.example.capitalize()} (`{self.task}`) with a `{self.cell}` recurrent core: {self.parameters:,} parameters.
Trained on TFDS `{dataset.tfds_name}` {dataset.tfds_version}{_source_line(dataset)}.{lineage}
Data licence: {dataset.licence}.

Input to `predict`: {contract.predict_input}.

{self.notes}

Reproduce: `{training.command}`

## Metrics
| split | TFDS split | values |
|---|---|---|
{metrics}

![training curves]({CURVES_FILE})

## Reference input and outputs (checked on every load)
| input | output |
|---|---|
{references}

## Sequence contract
Padding: {contract.padding}.

| preprocessing | value |
|---|---|
{preprocessing}

## Hyperparameters
| name | value |
|---|---|
{hp}

## Training
{training.epochs_run} of {training.epochs} epochs, batch size {training.batch_size}, seed {training.seed}, {training.seconds} s. Libraries: {libraries}.

## Files
| file | bytes | SHA-256 |
|---|---|---|
{files}
"""


def _source_line(dataset: DatasetRecord) -> str:
    source = dataset.source
    if not source or "sha256" not in source:
        return ""
    skipped = source.get("skipped_rows")
    return (
        f", built from `{source['path']}` ({source['format']}, SHA-256 {source['sha256'][:16]}…"
        + (f"; {skipped['count']} bad rows skipped, e.g. {skipped['first'][0]}" if skipped else "")
        + ")"
    )


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries a model depends on, for its card.

    Returns:
        `{"python": ..., "tensorflow": ..., ...}`; "not installed" for a missing library.
    """
    versions = {"python": platform.python_version()}
    for package in LIBRARIES:
        try:
            versions[package] = package_version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def signature(tensors: Any) -> list[dict[str, Any]]:
    """Name, shape and dtype of each of a model's input or output tensors, for the card.

    Args:
        tensors: a model's `inputs` or `outputs` (a tensor, or a list or dict of them).

    Returns:
        One `{"name", "shape", "dtype"}` per tensor in flattened order, `shape` a list with
        None for unknown sizes (the batch axis first).
    """
    return [
        {"name": t.name, "shape": list(t.shape), "dtype": str(t.dtype)}
        for t in keras.tree.flatten(tensors)
    ]


def sequence_contract(result: TrainResult) -> SequenceContract:
    """Shapes, padding, masking, lengths and vocabularies a caller must respect.

    Args:
        result: a training result.

    Returns:
        The sequence contract of its model.
    """
    return SequenceContract(
        inputs=signature(result.model.inputs),
        outputs=signature(result.model.outputs),
        padding="right (post); id 0 is padding, masked in every embedding and weighted 0 in the loss",
        preprocessing=result.task.preprocessing.summary(),
        predict_input=result.task.input_description,
    )


def _command(result: TrainResult, name: str, registry: Path | None) -> str:
    """The one command that reproduces the model: `zoo train`, or `zoo retrain` from its
    parent, runnable as written from any folder: every argument shell-quoted
    (`shlex.join`), the data's path absolute, the model's name, and its registry where it
    is not the default one."""
    hp, retrain = result.hyperparameters, result.retrain
    args = ["zoo", "retrain", retrain["parent"]] if retrain else ["zoo", "train", result.task.name]
    args += _dataset_arguments(result)
    if not retrain:
        args += ["--cell", str(hp.get("cell"))]
    args += ["--epochs", str(result.epochs), "--batch-size", str(result.batch_size)]
    args += ["--seed", str(result.seed), "--backend", result.backend]
    # retraining stops early unless told 0; training only when told
    args += ["--patience", str(result.patience or 0)] if retrain or result.patience else []
    if retrain:
        args += ["--head-epochs", str(retrain["head_epochs"])]
        args += ["--freeze-encoder"] if retrain["freeze_encoder"] else []
        args += ["--no-gradual-unfreezing"] if retrain.get("gradual_unfreezing") is False else []
    else:
        args += ["--strategy", result.strategy] if result.strategy != "default" else []
        for key, value in sorted(hp.items()):
            args += ["--set", f"{key}={_cli_value(value)}"] if key != "cell" else []
    args += ["--name", name] + (["--registry", str(registry)] if registry else [])
    return shlex.join(args)


def build(result: TrainResult, name: str, registry: Path | None = None) -> ModelCard:
    """The card of a trained model, before the registry saves it.

    Args:
        result: the training result.
        name: the model's registry name.
        registry: the registry folder it is saved in, absolute, where it is not the
            default one (`zoo.registry.layout.default_root`): its command names it.

    Returns:
        The card, without version, files and reference outputs: `zoo.registry.store.save`
        sets them.
    """
    task, spec, hp = result.task, result.spec, result.hyperparameters
    retrain = RetrainRecord.from_json(result.retrain) if result.retrain else None
    return ModelCard(
        name=name,
        task=task.name,
        example=task.example,
        cell=hp.get("cell"),
        parameters=int(result.model.count_params()),
        parent=retrain.parent if retrain else None,
        retrain=retrain,
        dataset=DatasetRecord(
            key=result.dataset,
            tfds_name=spec.tfds_name,
            tfds_version=str(loading.info(spec.tfds_name).version),
            splits={"train": spec.train, "validation": spec.validation, "test": spec.test},
            fields=spec.fields,
            licence=spec.licence,
            source=spec.source,
        ),
        hyperparameters=hp,
        training=TrainingRecord(
            epochs=result.epochs,
            epochs_run=len(result.history.get("loss", [])),
            patience=result.patience,
            precision_policy=result.precision_policy,
            strategy=result.strategy,
            replicas=result.replicas,
            backend=result.backend,
            batch_size=result.batch_size,
            seed=result.seed,
            seconds=round(result.seconds, 2),
            history=result.history,
            command=_command(result, name, registry),
        ),
        metrics={
            split: {"split": getattr(spec, split), **values}
            for split, values in result.metrics.items()
        },
        headline_metric=task.headline_metric,
        notes=task.model_notes,
        sequence_contract=sequence_contract(result),
        libraries=library_versions(),
        search=SearchRecord.from_json(result.search) if result.search else None,
    )


#: options of `zoo.data.formats` and the `zoo train` flags that set them
_FORMAT_FLAGS = {
    "encoding": "--encoding",
    "columns": "--columns",
    "source": "--source",
    "target": "--target",
    "image_size": "--image-size",
    "rename": "--rename",
    "label_delimiter": "--label-delimiter",
    "labels": "--labels",
    "label_prefix": "--label-prefix",
    "seed": "--split-seed",  # the data's own seed: a model may be trained with another
}


def _dataset_arguments(result: TrainResult) -> list[str]:
    """`--dataset KEY`, or `--data PATH --format FORMAT` and the format's options as the
    data was read, and its licence where one was given (not the placeholder of none)."""
    source = result.spec.source
    if source is None:
        return ["--dataset", str(result.dataset)]
    options = source["options"]
    args = ["--data", source["path"], "--format", source["format"]]
    for key, flag in _FORMAT_FLAGS.items():
        args += [flag, str(options[key])] if key in options else []
    args += ["--no-stratify"] if options.get("stratify") is False else []  # stratified: default
    args += ["--skip-bad-rows"] if options.get("skip_bad_rows") else []
    if result.spec.licence != UNKNOWN_LICENCE:
        args += ["--data-licence", result.spec.licence]
    return args


def _cli_value(value: Any) -> str:
    """A hyperparameter as `--set KEY=VALUE` reads it back (`zoo.cli._common.hparam`):
    JSON, except a string JSON would read as something else (`adam`, not `"adam"`)."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except json.JSONDecodeError:
            return value
    return json.dumps(value)


def plot_curves(history: dict[str, list[float]], headline: str, path: Path) -> None:
    """Loss and the headline metric per epoch, training beside validation.

    Args:
        history: per-epoch Keras logs.
        headline: the headline metric's name in `history`.
        path: the PNG file to write.
    """
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, metric in zip(axes, ("loss", headline), strict=True):
        for key, style in ((metric, "-o"), (f"val_{metric}", "--s")):
            values = history.get(key)
            if values and all(math.isfinite(v) for v in values):
                ax.plot(range(1, len(values) + 1), values, style, label=key, markersize=3)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
