"""The catalogue of the zoo's pretrained models, as data shipped inside the package.

`catalogue.json` beside this module maps each shipped model name to its task, cell and
example, its aliases, and per version the dataset, headline metric, parameter count and
the size and SHA-256 of every file (card and README included). A model pulled from a hub
is checked against these pinned hashes before anything is loaded, so a hub needs no trust:
it only serves bytes.

Regenerate it from a source checkout's `saved_models/` after adding or retraining a
shipped model (`tests/test_catalogue.py` fails until then):

    python -m zoo.registry.catalogue          # rewrite zoo/registry/catalogue.json
    python -m zoo.registry.catalogue --check  # exit 1 if it differs from saved_models/

This module imports no TensorFlow: `zoo models` and `zoo pull` read it quickly.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path
from typing import Any

from zoo.errors import UnknownNameError, ZooError
from zoo.registry import layout

CATALOGUE_FILE = Path(__file__).with_name("catalogue.json")
#: models that `zoo demo` writes into a checkout's saved_models/ are the user's (git ignores them)
_NOT_SHIPPED = "demo-"


def _version_entry(path: Path) -> dict[str, Any]:
    """A version folder's catalogue entry, from its `card.json` and its files."""
    card = json.loads((path / layout.CARD_FILE).read_text())
    headline = card["headline_metric"]
    return {
        "dataset": card["dataset"]["tfds_name"],
        "licence": card["dataset"]["licence"],
        "headline_metric": headline,
        "metrics": {
            split: values[headline]
            for split, values in sorted(card["metrics"].items())
            if isinstance(values.get(headline), (int, float))
        },
        "parameters": card["parameters"],
        "files": {
            file.name: {"bytes": file.stat().st_size, "sha256": layout.sha256(file)}
            for file in sorted(path.iterdir())
            if file.is_file()
        },
    }


def entry(folder: Path) -> dict[str, Any]:
    """The catalogue entry of a model's registry folder: every version in it.

    Args:
        folder: `<root>/<name>`, with at least one version.

    Returns:
        `{"task", "cell", "example", "aliases", "versions": {"<n>": {...}}}`.
    """
    numbers = layout.versions(folder)
    card = json.loads((folder / str(numbers[-1]) / layout.CARD_FILE).read_text())
    return {
        "task": card["task"],
        "cell": card["cell"],
        "example": card["example"],
        "aliases": layout.aliases(folder) or {"latest": numbers[-1]},
        "versions": {str(n): _version_entry(folder / str(n)) for n in numbers},
    }


def build(models: Path) -> dict[str, Any]:
    """The catalogue of every shipped model in a `saved_models/` folder (not `demo-*`).

    Args:
        models: the folder.

    Returns:
        `{"format": 1, "models": {name: entry}}`.
    """
    names = [n for n in layout.list_names("*", models) if not n.startswith(_NOT_SHIPPED)]
    return {"format": 1, "models": {name: entry(models / name) for name in names}}


@functools.cache
def models() -> dict[str, dict[str, Any]]:
    """The shipped catalogue's models, read once.

    Returns:
        Name -> entry (see `entry`).
    """
    return json.loads(CATALOGUE_FILE.read_text())["models"]


def pin(ref: str) -> tuple[str, int]:
    """Resolve a catalogue model reference to its immutable version, without any network.

    Args:
        ref: `NAME` (its `latest`), `NAME@VERSION` or `NAME:ALIAS`.

    Returns:
        `(name, version)`.

    Raises:
        UnknownNameError: a malformed reference, a name not in the catalogue, or a version
            or alias it does not list.
    """
    name, version, alias = layout.parse_ref(ref, list(models()))
    if name not in models():
        raise UnknownNameError("catalogue model", name, models())
    model = models()[name]
    if version is None:
        alias = alias or "latest"
        if alias not in model["aliases"]:
            raise UnknownNameError(f"alias of {name}", alias, model["aliases"])
        version = model["aliases"][alias]
    if str(version) not in model["versions"]:
        raise UnknownNameError(f"version of {name}", str(version), model["versions"])
    return name, version


def files(name: str, version: int) -> dict[str, dict[str, Any]]:
    """The files of a catalogue version, with their sizes and SHA-256.

    Args:
        name: a catalogue name.
        version: one of its versions (from `pin`).

    Returns:
        File name -> `{"bytes", "sha256"}`.
    """
    return models()[name]["versions"][str(version)]["files"]


def main(argv: list[str] | None = None) -> int:
    """`python -m zoo.registry.catalogue [--check] [--models DIR]`.

    Args:
        argv: the arguments (default: `sys.argv[1:]`).

    Returns:
        0, or 1 when `--check` finds the catalogue out of date.

    Raises:
        ZooError: no `saved_models/` to read (not a source checkout, and no `--models`).
    """
    parser = argparse.ArgumentParser(
        prog="python -m zoo.registry.catalogue",
        description="Regenerate the catalogue of shipped models from a checkout's saved_models/.",
    )
    parser.add_argument("--models", type=Path, help="default: this checkout's saved_models/")
    parser.add_argument(
        "--check", action="store_true", help="only compare; exit 1 if the catalogue differs"
    )
    args = parser.parse_args(argv)
    source = args.models or layout.checkout_models()
    if source is None:
        raise ZooError("no saved_models/ here: run from a source checkout or pass --models DIR.")
    built = build(source)
    if args.check:
        current = json.loads(CATALOGUE_FILE.read_text()) if CATALOGUE_FILE.exists() else None
        if current != built:
            print(f"{CATALOGUE_FILE} differs from {source}: regenerate it.", file=sys.stderr)
            return 1
        return 0
    layout.write_json_atomic(CATALOGUE_FILE, built)
    print(f"wrote {CATALOGUE_FILE} ({len(built['models'])} models from {source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
