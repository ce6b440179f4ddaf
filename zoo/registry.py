"""The registry over `saved_models/`: numbered immutable versions, aliases, cards, integrity.

Layout: `<root>/<name>/<version>/` holds `model.keras`, `preprocessing.json` (vocabularies,
label names, shapes), `card.json` (machine-readable) and `README.md` (the model card);
`<root>/<name>/aliases.json` maps aliases such as `latest` to versions. A version is
written in a temporary folder and renamed into place, so a crash leaves no half version;
a file lock hands out version numbers, so concurrent saves never collide.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version as package_version
from pathlib import Path
from typing import Any

import keras
from filelock import FileLock

from zoo import data
from zoo.errors import UnknownNameError, ZooError
from zoo.task import Task, get_task
from zoo.training import TrainResult

MODEL_FILE, PREPROCESSING_FILE, CARD_FILE, README_FILE, ALIASES_FILE = (
    "model.keras",
    "preprocessing.json",
    "card.json",
    "README.md",
    "aliases.json",
)
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_REF = re.compile(r"^(?P<name>[^@:]+)(?:@(?P<version>\d+)|:(?P<alias>[A-Za-z0-9._-]+))?$")


class IntegrityError(ZooError):
    """A registry file that is missing, altered or unsafe to load."""


def default_root() -> Path:
    """`ZOO_REGISTRY`, else the `saved_models/` folder of this checkout."""
    return Path(os.environ.get("ZOO_REGISTRY") or Path(__file__).resolve().parent.parent / "saved_models")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("tensorflow", "keras", "tensorflow-datasets", "keras-tuner"):
        try:
            versions[package] = package_version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _write_json_atomic(path: Path, payload: Any) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True)
    os.replace(handle.name, path)


def _signature(tensors) -> list[dict[str, Any]]:
    return [{"name": t.name, "shape": list(t.shape), "dtype": str(t.dtype)} for t in keras.tree.flatten(tensors)]


def model_card(result: TrainResult, name: str) -> dict[str, Any]:
    """Everything needed to understand and reproduce a trained model (files are added on save)."""
    task, model, spec = result.task, result.model, result.spec
    return {
        "name": name,
        "task": task.name,
        "example": task.example,
        "cell": result.hyperparameters.get("cell"),
        "parameters": int(model.count_params()),
        "dataset": {
            "key": result.dataset,
            "tfds_name": spec.tfds_name,
            "tfds_version": str(data.info(spec.tfds_name).version),
            "splits": {"train": spec.train, "validation": spec.validation, "test": spec.test},
        },
        "hyperparameters": result.hyperparameters,
        "training": {
            "epochs": result.epochs,
            "batch_size": result.batch_size,
            "seed": result.seed,
            "seconds": round(result.seconds, 2),
            "history": result.history,
            "command": f"zoo train {task.name} --dataset {result.dataset} --cell {result.hyperparameters.get('cell')} "
            f"--epochs {result.epochs} --batch-size {result.batch_size} --seed {result.seed}",
        },
        "metrics": {split: {"split": getattr(spec, split), **values} for split, values in result.metrics.items()},
        "headline_metric": task.headline_metric,
        "notes": task.model_notes,
        "sequence_contract": {
            "inputs": _signature(model.inputs),
            "outputs": _signature(model.outputs),
            "padding": "right (post); id 0 is padding and is masked",
            "predict_input": task.input_description,
        },
        "libraries": _library_versions(),
    }


def _readme(card: dict[str, Any]) -> str:
    metrics = "\n".join(
        f"| {split} ({values['split']}) | " + ", ".join(f"{k} {v:.4f}" for k, v in values.items() if k != "split") + " |"
        for split, values in card["metrics"].items()
    )
    files = "\n".join(f"| {f} | {v['bytes']:,} | `{v['sha256']}` |" for f, v in card["files"].items())
    hp = "\n".join(f"| {k} | {v} |" for k, v in sorted(card["hyperparameters"].items()))
    return f"""# {card['name']} v{card['version']}

{card['example'].capitalize()} ({card['task']}) with a `{card['cell']}` recurrent core, {card['parameters']:,} parameters.
Trained on TFDS `{card['dataset']['tfds_name']}` {card['dataset']['tfds_version']} (splits: {card['dataset']['splits']}).

Input to `predict`: {card['sequence_contract']['predict_input']}.

{card['notes']}

Reproduce: `{card['training']['command']}`

## Metrics
| split | values |
|---|---|
{metrics}

## Hyperparameters
| name | value |
|---|---|
{hp}

## Files
| file | bytes | SHA-256 |
|---|---|---|
{files}
"""


@dataclass
class ZooModel:
    """A loaded zoo model: `predict` takes raw inputs and returns readable outputs."""

    name: str
    version: int
    task: Task
    model: keras.Model
    card: dict[str, Any]

    def predict(self, raw: Any) -> Any:
        """One raw input (a string, a token list, an image path or array) -> one readable result."""
        return self.task.predict(self.model, [raw])[0]

    def predict_batch(self, inputs: list[Any]) -> list[Any]:
        return self.task.predict(self.model, inputs)


def save(result: TrainResult, name: str | None = None, *, root: Path | None = None) -> Path:
    """Write `result` as the next version of `name` and point `latest` at it."""
    root = Path(root or default_root())
    name = name or f"{result.task.name}-{result.hyperparameters.get('cell')}-{result.dataset}".replace("/", "-").lower()
    if not _NAME.match(name):
        raise ZooError(f"invalid model name {name!r}: use lowercase letters, digits, '.', '_' and '-'.")
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
    try:
        result.model.save(staging / MODEL_FILE)
        (staging / PREPROCESSING_FILE).write_text(json.dumps(result.task.preprocessing, indent=1))
        card = model_card(result, name)
        card["files"] = {
            f.name: {"bytes": f.stat().st_size, "sha256": _sha256(f)} for f in sorted(staging.iterdir())
        }
        with FileLock(str(folder / ".lock")):
            version = max([int(p.name) for p in folder.iterdir() if p.name.isdigit()], default=0) + 1
            card["version"] = version
            (staging / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True))
            (staging / README_FILE).write_text(_readme(card))
            os.rename(staging, folder / str(version))
            aliases = _aliases(folder)
            aliases["latest"] = version
            _write_json_atomic(folder / ALIASES_FILE, aliases)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder / str(version)


def _aliases(folder: Path) -> dict[str, int]:
    path = folder / ALIASES_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def list_models(pattern: str = "*", *, root: Path | None = None) -> list[str]:
    """Model names matching a shell-style wildcard pattern."""
    root = Path(root or default_root())
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.exists() else []
    return [n for n in names if fnmatch.fnmatch(n, pattern)]


def resolve(ref: str, *, root: Path | None = None) -> Path:
    """`NAME`, `NAME@3` or `NAME:alias` -> the version folder."""
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
        versions = [p.name for p in folder.iterdir() if p.name.isdigit()]
        raise UnknownNameError(f"version of {match['name']}", version, versions)
    return path


def verify(path: Path) -> dict[str, Any]:
    """Check every file of a version folder against the SHA-256 recorded in its card."""
    try:
        card = json.loads((path / CARD_FILE).read_text())
        recorded = card["files"]
    except (OSError, ValueError, KeyError) as err:
        raise IntegrityError(f"{path / CARD_FILE} is missing or unreadable ({err}); the version cannot be trusted.") from err
    for filename, meta in recorded.items():
        file = path / filename
        if not file.is_file():
            raise IntegrityError(f"{file} is missing; reinstall or re-download this model version.")
        if _sha256(file) != meta["sha256"]:
            raise IntegrityError(f"{file} does not match the SHA-256 in its card: it was altered or corrupted. Re-download or retrain it.")
    return card


def load(ref: str, *, root: Path | None = None) -> ZooModel:
    """Load a registry model by reference, after checking its files, in Keras safe mode."""
    path = resolve(ref, root=root)
    card = verify(path)
    task = get_task(card["task"])(json.loads((path / PREPROCESSING_FILE).read_text()))
    try:
        model = keras.saving.load_model(path / MODEL_FILE, compile=False, safe_mode=True)
    except (ValueError, TypeError, OSError) as err:
        raise IntegrityError(f"{path / MODEL_FILE} cannot be loaded safely: {err}") from err
    return ZooModel(name=card["name"], version=int(card["version"]), task=task, model=model, card=card)
