"""Labels of the classification formats (text-per-class, csv, jsonl, text-folder, trec,
fasttext), in one place: how labels are checked and ordered, how a validation split keeps
every class, and the stored dataset they all share.

The stored dataset, which the many-to-one task reads:

- single-label: `{"text": Text(), "label": ClassLabel(names=NAMES)}`;
- multi-label: `{"text": Text(), "label": Sequence(ClassLabel(names=NAMES))}`, each example
  with zero or more labels, none twice, in the order of NAMES.

NAMES are the labels of every split, stripped, in natural order (`natural_order`).
"""

from __future__ import annotations

import collections
import dataclasses
import random
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import tensorflow_datasets as tfds

from zoo.data.formats import _dataset, _files
from zoo.data.spec import DatasetSpec
from zoo.errors import BadInputError, BadRowError
from zoo_runtime.visible import is_blank


@dataclasses.dataclass(frozen=True)
class Row:
    """One example as a reader found it, checked by `row`: its text, its labels (one for
    single-label data), and where it stands, for messages (`reviews.csv, line 7`)."""

    text: str
    labels: tuple[str, ...]
    where: str


def _natural_key(name: str) -> tuple[Any, ...]:
    # re.split with a group alternates text and digit runs, text first: compare the digit
    # runs as numbers (then as written, so "01" and "1" keep one order)
    parts = re.split(r"([0-9]+)", name)
    return tuple((int(p), p) if i % 2 else p for i, p in enumerate(parts))


def natural_order(names: Iterable[str]) -> list[str]:
    """Label names in natural order: runs of digits compare as numbers, the rest as strings.

    Args:
        names: label names.

    Returns:
        The names sorted: `["1", "2", "10"]`, `["class2", "class10"]`, `["neg", "pos"]`.
    """
    return sorted(names, key=_natural_key)


def row(text: str, labels: Iterable[str], where: str, *, multi_label: bool) -> Row:
    """One example, checked: its text is not empty, its labels are stripped and without
    repeats; in multi-label data an empty label is no label, in single-label data it is
    refused, as is a label holding a line break.

    Args:
        text: the example's text, as read.
        labels: its labels, as written (one for single-label data).
        where: where it stands, for messages (`reviews.csv, line 7`).
        multi_label: the row may hold any number of labels, none included.

    Returns:
        The `Row`, labels cleaned.

    Raises:
        BadRowError: an empty text (`zoo.data.visible.is_blank`, the rule predict follows:
            nothing a model could read), a label with a line break, or an empty label in
            single-label data.
    """
    if is_blank(text):
        raise BadRowError(
            where, "the text is empty (or invisible characters only); fill it in or drop the row."
        )
    cleaned = tuple(dict.fromkeys(label.strip() for label in labels if label.strip()))
    for label in cleaned:  # TFDS keeps the names in a file, one a line
        if "\n" in label or "\r" in label:
            raise BadRowError(
                where, f"the label {label!r} holds a line break; a label is one line: fix the row."
            )
    if not multi_label and len(cleaned) != 1:
        raise BadRowError(where, "empty label; every row needs a label (or drop the row).")
    return Row(text, cleaned, where)


def _too_few(path: Path, counts: collections.Counter[str]) -> None:
    """Refuse classes that cannot appear in both the training and the validation split."""
    few = natural_order(name for name, count in counts.items() if count < 2)
    if not few:
        return
    named = ", ".join(repr(n) for n in few[:10]) + (
        f" and {len(few) - 10} more" if len(few) > 10 else ""
    )
    has = (
        f"class {named} has 1 example" if len(few) == 1 else f"classes {named} have 1 example each"
    )
    raise BadInputError(
        f"{path}: {has}; each class needs at least 2 to appear in both the training and the "
        "validation split: add examples or drop the class."
    )


def stratified_split(
    examples: list[dict[str, Any]], names: list[str], seed: int, path: Path
) -> dict[str, list[dict[str, Any]]]:
    """A seeded validation split that keeps every class: 10 % of each class's training
    examples (at least one) are drawn for validation with `random.Random(seed)`, then both
    splits are shuffled by the same generator.

    A multi-label example is drawn with the rarest of its labels (fewest training examples;
    of equal ones, the first in `names`), so that rare labels reach the validation split;
    examples without labels are drawn as a class of their own (one alone stays in training).

    Args:
        examples: the encoded training examples (`label` an index, or a list of indices).
        names: the label names, in index order.
        seed: the generator's seed.
        path: the data's path, for messages.

    Returns:
        `{"train": [...], "validation": [...]}`.

    Raises:
        BadInputError: a class with fewer than two training examples, naming it.
    """
    label_sets = [
        ex["label"] if isinstance(ex["label"], list) else [ex["label"]] for ex in examples
    ]
    counts = collections.Counter(i for labels in label_sets for i in labels)
    _too_few(path, collections.Counter({names[i]: n for i, n in counts.items()}))
    groups: dict[int, list[dict[str, Any]]] = collections.defaultdict(list)
    for example, labels in zip(examples, label_sets, strict=True):
        groups[min(labels, key=lambda i: (counts[i], i)) if labels else -1].append(example)
    rng = random.Random(seed)
    train, validation = [], []
    for key in sorted(groups):
        group = groups[key]
        rng.shuffle(group)
        cut = max(1, int(len(group) * _dataset.VALIDATION_FRACTION)) if len(group) > 1 else 0
        validation += group[:cut]
        train += group[cut:]
    rng.shuffle(train)
    rng.shuffle(validation)
    return {"train": train, "validation": validation}


def checksum_options(options: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """The options as the checksum covers them. Files read as before issue 27 keep the
    checksum (and so the stored dataset) they had: `stratify=False` is that split, left out;
    where the natural order of the names differs from the plain order used before, the
    checksum says so, since the stored label indices differ."""
    kept = {k: v for k, v in options.items() if not (k == "stratify" and v is False)}
    if names != sorted(names):
        kept["label_order"] = "natural"
    return kept


def classification(
    name: str,
    fmt: str,
    path: Path,
    rows: dict[str, list[Row]],
    *,
    multi_label: bool,
    files: dict[str, list[Path]],
    unused: Iterable[Path],
    options: dict[str, Any],
    licence: str,
    description: str,
    read: Iterable[Path] | None = None,
    root: Path | None = None,
    bad: _files.BadRows | None = None,
) -> DatasetSpec:
    """Check, encode, split and store the examples of a classification format.

    Args:
        name: the TFDS name of the format's datasets (`zoo_csv_text`).
        fmt: the format, as the card records it.
        path: the file or folder the user gave.
        rows: the examples of each split found in the files, each made by `row`.
        multi_label: store a sequence of labels per example rather than one label.
        files: the files of each split, as the card records them.
        unused: files found but not read.
        options: the reader's options, as the card records them; `seed` and `stratify` say
            how a missing validation split is drawn (`stratified_split`, or the plain
            seeded 90/10 split with `stratify=False`).
        licence: the data's terms of use.
        description: the stored dataset's description.
        read: the files the examples were read from, which the checksum covers (default:
            those of `files`; class folders list the folders, not their files).
        root: name files by their path under `root` in the checksum (class folders hold
            files of one name).
        bad: the rows the reader found bad, where it skips them (`skip_bad_rows`): the
            option and their count go into the card's record of the data.

    Returns:
        The spec of `<name>/<checksum>`: `text` and `label` as this module's docstring says.

    Raises:
        BadInputError: a file none of whose rows could be read (`BadRows.record`), fewer than
            two labels, or (when the split is stratified) a class with fewer than two
            training examples.
    """
    skipped = bad.record() if bad else None
    if bad and bad.skip:  # other stored examples: the checksum covers it
        options = {**options, "skip_bad_rows": True}
    names = natural_order(
        {label for split_rows in rows.values() for found in split_rows for label in found.labels}
    )
    if len(names) < 2:
        raise BadInputError(
            f"{path}: only the label {names[0]!r}; classification needs at least two labels."
            if names
            else f"{path}: no labels; classification needs at least two labels."
        )
    index = {label: i for i, label in enumerate(names)}
    splits = {
        split: [
            {
                "text": found.text,
                "label": sorted(index[x] for x in found.labels)
                if multi_label
                else index[found.labels[0]],
            }
            for found in split_rows
        ]
        for split, split_rows in rows.items()
    }
    seeded = None
    if "validation" not in splits:
        train = splits.pop("train")
        splits.update(
            stratified_split(train, names, options["seed"], path)
            if options["stratify"]
            else _dataset.seeded_split(train, options["seed"])
        )
        seeded = options["seed"]
    label = tfds.features.ClassLabel(names=names)
    features = tfds.features.FeaturesDict(
        {
            "text": tfds.features.Text(),
            "label": tfds.features.Sequence(label) if multi_label else label,
        }
    )
    used = list(read) if read is not None else [f for group in files.values() for f in group]
    return _dataset.stored(
        name,
        fmt,
        path,
        features=features,
        splits=splits,
        files=files,
        options=options,
        checksums=_files.checksum(used, checksum_options(options, names), root),
        seeded=seeded,
        unused=unused,
        licence=licence,
        description=description,
        skipped=skipped,
    )
