"""Model cards: what a saved model records about itself, as JSON and as a README.

A card names the dataset (TFDS name, version, splits), the hyperparameters, metrics per
split, seed, library versions, the training command, the sequence contract, a reference
input with its outputs (re-checked on every load) and the training curves.
"""
from __future__ import annotations

import math
import platform
import shlex
from importlib.metadata import PackageNotFoundError, version as package_version
from pathlib import Path
from typing import Any

import keras
import matplotlib

matplotlib.use("Agg")  # files only: no display is needed or wanted
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from zoo.data import loading  # noqa: E402
from zoo.training.fit import TrainResult  # noqa: E402

CURVES_FILE = "training_curves.png"
SEARCH_FILE = "search.json"
LIBRARIES = ("tensorflow", "keras", "tensorflow-datasets", "keras-tuner")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in LIBRARIES:
        try:
            versions[package] = package_version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def signature(tensors: Any) -> list[dict[str, Any]]:
    """Name, shape and dtype of each of a model's input or output tensors, for the card."""
    return [{"name": t.name, "shape": list(t.shape), "dtype": str(t.dtype)} for t in keras.tree.flatten(tensors)]


def sequence_contract(result: TrainResult) -> dict[str, Any]:
    """Shapes, padding, masking, lengths and vocabularies a caller must respect."""
    return {
        "inputs": signature(result.model.inputs),
        "outputs": signature(result.model.outputs),
        "padding": "right (post); id 0 is padding, masked in every embedding and weighted 0 in the loss",
        "preprocessing": result.task.preprocessing.summary(),
        "predict_input": result.task.input_description,
    }


def _command(result: TrainResult) -> str:
    """The one command that reproduces the model: `zoo train`, or `zoo retrain` from its parent."""
    hp, retrain = result.hyperparameters, result.retrain
    common = f"--epochs {result.epochs} --batch-size {result.batch_size} --seed {result.seed}" + (
        f" --patience {result.patience}" if result.patience else ""
    )
    if retrain:
        return (f"zoo retrain {retrain['parent']} {_dataset_arguments(result)} {common} --head-epochs {retrain['head_epochs']}"
                + (" --freeze-encoder" if retrain["freeze_encoder"] else ""))
    return (
        f"zoo train {result.task.name} {_dataset_arguments(result)} --cell {hp.get('cell')} {common}"
        + (f" --strategy {result.strategy}" if result.strategy != "default" else "")
        + "".join(f" --set {k}={_cli_value(v)}" for k, v in sorted(hp.items()) if k != "cell")
    )


def build(result: TrainResult, name: str) -> dict[str, Any]:
    """The card of a trained model; the registry adds version, files and reference outputs."""
    task, spec, hp = result.task, result.spec, result.hyperparameters
    return {
        "name": name,
        "task": task.name,
        "example": task.example,
        "cell": hp.get("cell"),
        "parameters": int(result.model.count_params()),
        "parent": result.retrain["parent"] if result.retrain else None,
        "retrain": result.retrain,
        "dataset": {
            "key": result.dataset,
            "tfds_name": spec.tfds_name,
            "tfds_version": str(loading.info(spec.tfds_name).version),
            "splits": {"train": spec.train, "validation": spec.validation, "test": spec.test},
            "fields": spec.fields,
            "licence": spec.licence,
            "source": spec.source,
        },
        "hyperparameters": hp,
        "training": {
            "epochs": result.epochs,
            "epochs_run": len(result.history.get("loss", [])),
            "patience": result.patience,
            "precision_policy": result.precision_policy,
            "strategy": result.strategy,
            "replicas": result.replicas,
            "batch_size": result.batch_size,
            "seed": result.seed,
            "seconds": round(result.seconds, 2),
            "history": result.history,
            "command": _command(result),
        },
        "metrics": {split: {"split": getattr(spec, split), **values} for split, values in result.metrics.items()},
        "headline_metric": task.headline_metric,
        "notes": task.model_notes,
        "sequence_contract": sequence_contract(result),
        "libraries": library_versions(),
        "search": result.search,
    }


#: options of `zoo.data.formats` and the `zoo train` flags that set them
_FORMAT_FLAGS = {
    "encoding": "--encoding", "columns": "--columns", "source": "--source", "target": "--target",
    "image_size": "--image-size", "rename": "--rename",
}


def _quote(value: Any) -> str:
    return shlex.quote(str(value))


def _dataset_arguments(result: TrainResult) -> str:
    source = result.spec.source
    if source is None:
        return f"--dataset {result.dataset}"
    options = "".join(f" {flag} {_quote(source['options'][k])}" for k, flag in _FORMAT_FLAGS.items() if k in source["options"])
    return f"--data {_quote(source['path'])} --format {source['format']}{options} --data-licence {_quote(result.spec.licence)}"


def _cli_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def plot_curves(history: dict[str, list[float]], headline: str, path: Path) -> None:
    """Loss and the headline metric per epoch, training beside validation."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, metric in zip(axes, ("loss", headline)):
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


def _source_line(card: dict[str, Any]) -> str:
    source = card["dataset"].get("source")
    if not source or "sha256" not in source:
        return ""
    return f", built from `{source['path']}` ({source['format']}, SHA-256 {source['sha256'][:16]}…)"


def readme(card: dict[str, Any]) -> str:
    """The human-readable model card."""

    def fmt(value: Any) -> str:
        return f"{value:.4f}" if isinstance(value, float) else str(value)

    metrics = "\n".join(
        f"| {split} | `{values['split']}` | " + ", ".join(f"{k} {fmt(v)}" for k, v in values.items() if k != "split") + " |"
        for split, values in card["metrics"].items()
    )
    hp = "\n".join(f"| {k} | {v} |" for k, v in sorted(card["hyperparameters"].items()))
    files = "\n".join(f"| {f} | {v['bytes']:,} | `{v['sha256']}` |" for f, v in card["files"].items())
    contract = "\n".join(f"| {k} | {v} |" for k, v in card["sequence_contract"]["preprocessing"].items())
    references = "\n".join(
        f"| `{i}` | `{o}` |" for i, o in zip(card["reference"]["inputs"], card["reference"]["outputs"])
    )
    lineage = ""
    if card.get("retrain"):
        retrain = card["retrain"]
        added = ", ".join(f"{n} {k.replace('_', ' ')} entries" for k, n in retrain["vocabulary_added"].items() if n)
        lineage = (
            f"\nFine-tuned from `{retrain['parent']}`: "
            + ("a new output head for a new label set, " if retrain["head_replaced"] else "same labels, ")
            + (f"{added} added" if added else "no new vocabulary")
            + (", encoder frozen" if retrain["freeze_encoder"] else "") + ".\n"
        )
    search = card.get("search")
    if search:
        lineage += (
            f"\nFound by a keras-tuner `{search['tuner']}` search: best of {search['completed']} completed trials "
            f"({search['failed']} failed) on validation `{search['objective']}`; every trial is in `{SEARCH_FILE}`.\n"
        )
    libraries = ", ".join(f"{k} {v}" for k, v in card["libraries"].items())
    return f"""# {card['name']} v{card['version']}

{card['example'].capitalize()} (`{card['task']}`) with a `{card['cell']}` recurrent core: {card['parameters']:,} parameters.
Trained on TFDS `{card['dataset']['tfds_name']}` {card['dataset']['tfds_version']}{_source_line(card)}.{lineage}
Data licence: {card['dataset']['licence']}.

Input to `predict`: {card['sequence_contract']['predict_input']}.

{card['notes']}

Reproduce: `{card['training']['command']}`

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
Padding: {card['sequence_contract']['padding']}.

| preprocessing | value |
|---|---|
{contract}

## Hyperparameters
| name | value |
|---|---|
{hp}

## Training
{card['training']['epochs_run']} of {card['training']['epochs']} epochs, batch size {card['training']['batch_size']}, seed {card['training']['seed']}, {card['training']['seconds']} s. Libraries: {libraries}.

## Files
| file | bytes | SHA-256 |
|---|---|---|
{files}
"""
