"""One text file per class (`--format text-per-class`), one example a line, as the MR
sentence-polarity data ships (`rt-polarity.pos`, `rt-polarity.neg`)."""

from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path

from zoo.data.formats import _files, _labels
from zoo.data.formats._dataset import UNKNOWN_LICENCE, reader
from zoo.data.spec import DatasetSpec
from zoo.errors import BadInputError
from zoo_runtime.visible import is_blank


def _class_files(path: Path, files: list[Path]) -> tuple[list[Path], Callable[[Path], str]]:
    """The class files of a text-per-class folder and how each is labelled: files that share
    one name (`rt-polarity.pos`, `rt-polarity.neg`) are labelled by extension, files that
    share one extension (`pos.txt`, `neg.txt`) by name. Anything else is refused, naming it."""
    for shared, label_of in (
        (lambda f: f.stem, lambda f: f.suffix.lstrip(".")),
        (lambda f: f.suffix, lambda f: f.stem),
    ):
        count = collections.Counter(shared(f) for f in files).most_common(1)[0][1]
        if count == len(files) and all(label_of(f) for f in files):
            return files, label_of
    stems = collections.Counter(f.stem for f in files).most_common(1)[0]
    suffixes = collections.Counter(f.suffix for f in files).most_common(1)[0]
    if stems[1] >= suffixes[1]:
        rule, odd = f"share the name {stems[0]!r}", [f for f in files if f.stem != stems[0]]
    else:
        rule, odd = (
            f"share the extension {suffixes[0]!r}",
            [f for f in files if f.suffix != suffixes[0]],
        )
    raise BadInputError(
        f"{path}: the class files {rule}, but {', '.join(f.name for f in odd)} do"
        f"{'es' if len(odd) == 1 else ''} not: move {'it' if len(odd) == 1 else 'them'} out of the "
        "folder (one file per class, labelled by extension as in rt-polarity.pos or by name as in pos.txt)."
    )


@reader("text-per-class")
def text_per_class(
    path: Path,
    *,
    encoding: str = "utf-8",
    seed: int = 0,
    stratify: bool = True,
    licence: str = UNKNOWN_LICENCE,
) -> DatasetSpec:
    """One text file per class -> a TFDS dataset of `text` and `label`.

    Args:
        path: a folder of at least two class files, one example a line (stripped; blank
            lines skipped). Hidden files and notes (README, LICENSE, `*.md`, ...) are
            skipped. The class files share one name and differ by extension (labels are the
            extensions: `rt-polarity.pos` -> `pos`) or share one extension and differ by
            name (labels are the names: `pos.txt` -> `pos`).
        encoding: the files' text encoding (a byte-order mark is dropped).
        seed: seed of the train/validation split (10 % validation, at least one example).
        stratify: draw 10 % of each class for validation (`_labels.stratified_split`);
            False draws 10 % of all examples, as the zoo did before.
        licence: the data's terms of use, for the model card.

    Returns:
        The spec of `zoo_text_per_class/<checksum>`: `text` and `label` (`ClassLabel`, names
        in natural order); splits train and validation, no test.

    Raises:
        BadInputError: fewer than two class files, files that follow neither naming rule, an
            empty file, a file that cannot be read or decoded, or (stratified) a class of one
            example.
    """
    found = [f for f in _files.entries(path) if f.is_file()] if path.is_dir() else []
    notes = [f for f in found if _files.NOTES.search(f.name)]  # a README beside the data
    files = [f for f in found if f not in notes]
    if len(files) < 2:
        raise BadInputError(
            f"{path}: expected a folder with one text file per class (at least two)."
        )
    files, label_of = _class_files(path, files)
    rows = []
    for file in files:
        lines = [line.strip() for line in _files.lines(file, encoding)]
        if not any(lines):
            raise BadInputError(f"{file}: empty file; each class file needs one example a line.")
        # a blank line (or one of invisible characters only) is no example
        rows += [
            _labels.row(line, [label_of(file)], str(file), multi_label=False)
            for line in lines
            if not is_blank(line)
        ]
    return _labels.classification(
        "zoo_text_per_class",
        "text-per-class",
        path,
        {"train": rows},
        multi_label=False,
        files={"train": files},
        unused=notes,
        options={"encoding": encoding, "seed": seed, "stratify": stratify},
        licence=licence,
        description="One text file per class, prepared by the zoo.",
    )
