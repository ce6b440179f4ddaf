"""What every format does once it has read its files: register its reader, draw a seeded
validation split where the data has none, store the examples as a TFDS dataset (once, under
a lock), and describe the result as a `DatasetSpec` with the card's record of its source."""

from __future__ import annotations

import contextlib
import random
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import tensorflow_datasets as tfds

from zoo.constants import FORMATS
from zoo.data import loading
from zoo.data.formats import _files
from zoo.data.spec import DatasetSpec

UNKNOWN_LICENCE = "not stated: give the data's terms with --data-licence"
VALIDATION_FRACTION = 0.1

Reader = Callable[..., DatasetSpec]
#: the reader of each of `zoo.constants.FORMATS`, in that order (`zoo.data.formats` imports
#: the format modules in it), filled by `@reader`
READERS: dict[str, Reader] = {}
_R = TypeVar("_R", bound=Reader)


def reader(name: str) -> Callable[[_R], _R]:
    """Register a format's reader under its `--format` name, as timm registers a model.

    A reader takes the path and keyword-only options, each with a default except those every
    call must give; `zoo.data.formats.prepare` checks a call's options against its signature.

    Args:
        name: one of `zoo.constants.FORMATS`.

    Returns:
        The decorator, which returns the reader unchanged.
    """
    if name not in FORMATS:
        raise ValueError(f"format {name!r} is not in zoo.constants.FORMATS; add it there first.")

    def register(read: _R) -> _R:
        READERS[name] = read
        return read

    return register


def seeded_split(examples: list[Any], seed: int) -> dict[str, list[Any]]:
    """A seeded 90/10 split of training examples into `train` and `validation`: the examples
    shuffled by `random.Random(seed)`, the first 10 % (at least one) for validation.

    Args:
        examples: the training examples.
        seed: the shuffle's seed.

    Returns:
        `{"train": [...], "validation": [...]}`.
    """
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    cut = max(1, int(len(shuffled) * VALIDATION_FRACTION))
    return {"train": shuffled[cut:], "validation": shuffled[:cut]}


def spec(
    tfds_name: str,
    splits: Iterable[str],
    source: dict[str, Any],
    licence: str,
    fields: dict[str, str] | None = None,
) -> DatasetSpec:
    """The spec of a dataset stored from files: train, validation and, if stored, test."""
    splits = set(splits)
    return DatasetSpec(
        tfds_name,
        train="train",
        validation="validation",
        test="test" if "test" in splits else None,
        fields=fields or {},
        source=source,
        licence=licence,
    )


def source_record(
    path: Path,
    fmt: str,
    files: dict[str, list[Path]],
    checksum: str,
    sizes: dict[str, int],
    options: dict[str, Any],
    *,
    content: str,
    seeded: int | None = None,
    unused: Iterable[Path] = (),
    skipped: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The card's record of a dataset built from files: which file went to which split, the
    checksums of the examples (`checksum`) and of the files alone (`content`), the seed
    of a validation split made here (`seeded`, None when the files had one), and the bad
    rows skipped (`skipped`: `_files.BadRows.record`, None when none was)."""
    names = {
        split: sorted(str(f.relative_to(path)) if f != path else f.name for f in group)
        for split, group in files.items()
    }
    source = {
        "path": str(path),
        "format": fmt,
        "validation_fraction_if_split_here": VALIDATION_FRACTION,
        "files": sorted({n for group in names.values() for n in group}),
        "split_files": names,
        "sha256": checksum,
        "content_sha256": content,
        "examples": sizes,
        "options": options,
    }
    if seeded is not None:
        source["seeded_split"] = {"fraction": VALIDATION_FRACTION, "seed": seeded, "of": "train"}
    if unused:
        source["not_used"] = sorted(f.name for f in unused)
    if skipped:
        source["skipped_rows"] = skipped
    return source


def split_summary(source: dict[str, Any]) -> str:
    """One line that says which file went to which split, for the command line.

    Args:
        source: a `DatasetSpec.source` made by `prepare`.

    Returns:
        e.g. `train <- train.csv (90 %); validation <- 10 % of train (seed 0); not used:
        notes.csv`; a stratified split says `10 % of each class of train`.
    """
    seeded = source.get("seeded_split")
    parts = [
        f"{split} <- {', '.join(names)}"
        + (f" ({100 - round(100 * seeded['fraction'])} %)" if seeded and split == "train" else "")
        for split, names in source.get("split_files", {}).items()
    ]
    if seeded and "train" not in source.get("split_files", {}):  # captions with no train list
        parts.append(
            f"train <- the images no list names ({100 - round(100 * seeded['fraction'])} %)"
        )
    if seeded:
        each = "each class of " if source.get("options", {}).get("stratify") else ""
        parts.append(
            f"validation <- {round(100 * seeded['fraction'])} % of {each}train (seed {seeded['seed']})"
        )
    if source.get("not_used"):
        parts.append(f"not used: {', '.join(source['not_used'])}")
    return "; ".join(parts)


@contextlib.contextmanager
def building(name: str, checksum: str) -> Iterator[bool]:
    """Hold the lock of one prepared dataset while it is built; yields whether it still
    needs building. Other processes preparing the same files wait, then find it built. A
    build that fails leaves nothing behind."""
    config_dir = Path(loading.data_dir()) / name / checksum[:16]
    with loading.preparation_lock(f"{name}/{checksum[:16]}"):
        done = (config_dir / _files.VERSION / "dataset_info.json").exists()
        try:
            yield not done
        except BaseException:
            if not done:
                shutil.rmtree(config_dir, ignore_errors=True)
            raise


def store(
    name: str,
    checksum: str,
    features: tfds.features.FeatureConnector,
    splits: dict[str, list[dict[str, Any]]],
    description: str,
) -> None:
    """Store examples as a TFDS dataset once; a second call with the same content is free."""
    with building(name, checksum) as needed:
        if not needed:
            return
        with loading.preparing(downloads=False):
            tfds.dataset_builders.store_as_tfds_dataset(
                name=name,
                version=_files.VERSION,
                config=checksum[:16],
                features=features,
                split_datasets={
                    split: [(str(i), ex) for i, ex in enumerate(examples)]
                    for split, examples in splits.items()
                },
                data_dir=loading.data_dir(),
                description=description,
            )


def stored(
    name: str,
    fmt: str,
    path: Path,
    *,
    features: tfds.features.FeatureConnector,
    splits: dict[str, list[dict[str, Any]]],
    files: dict[str, list[Path]],
    options: dict[str, Any],
    checksums: tuple[str, str],
    seeded: int | None,
    unused: Iterable[Path],
    licence: str,
    description: str,
    fields: dict[str, str] | None = None,
    skipped: dict[str, Any] | None = None,
) -> DatasetSpec:
    """Store a format's examples (`store`) and describe them (`spec`, `source_record`).

    Args:
        name: the TFDS name of the format's datasets (`zoo_csv_text`).
        fmt: the format (`csv`), as the card records it.
        path: the file or folder the user gave.
        features: the stored features.
        splits: the examples of each split.
        files: the files of each split, as the card records them.
        options: the reader's options, as the card records them.
        checksums: `_files.checksum`'s pair: the examples' and the files' alone.
        seeded: the seed of a validation split drawn here, None where the files had one.
        unused: files found but not read, as the card records them.
        licence: the data's terms of use.
        description: the stored dataset's description.
        fields: the spec's `fields` (translation: source and target).
        skipped: the bad rows skipped, as the card records them (`source_record`).

    Returns:
        The spec of `<name>/<checksum[:16]>`.
    """
    checksum, content = checksums
    store(name, checksum, features, splits, description)
    sizes = {split: len(v) for split, v in splits.items()}
    record = source_record(
        path,
        fmt,
        files,
        checksum,
        sizes,
        options,
        content=content,
        seeded=seeded,
        unused=unused,
        skipped=skipped,
    )
    return spec(f"{name}/{checksum[:16]}", splits, record, licence, fields)
