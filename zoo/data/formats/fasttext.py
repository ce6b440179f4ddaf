"""fastText's supervised format (`--format fasttext`): each line starts with its labels,
`__label__sports __label__politics the text ...`; multi-label where any line has two."""

from __future__ import annotations

import re
from pathlib import Path

from zoo.data.formats import _files, _labels
from zoo.data.formats._dataset import UNKNOWN_LICENCE, reader
from zoo.data.spec import DatasetSpec
from zoo.errors import BadInputError, BadRowError

#: a token and the blanks after it; fastText separates tokens by ASCII blanks only
_TOKEN = re.compile(r"([^ \t\v\f\r]+)[ \t\v\f\r]*")


def _labelled(line: str, prefix: str, where: str) -> _labels.Row:
    """The labels at the start of a line, and the text after them; a line of two different
    labels is multi-label (`_labels.row`)."""
    rest, found, at = line.lstrip(" \t\v\f\r"), [], 0
    while (token := _TOKEN.match(rest, at)) and token[1].startswith(prefix):
        found.append(token[1][len(prefix) :])
        at = token.end()
    rest = rest[at:]
    if not found:
        raise BadRowError(
            where,
            f"no label: a fastText line starts with {prefix}NAME (e.g. "
            f"'{prefix}positive a fine film'); add one, or give the prefix with --label-prefix.",
        )
    if not rest.strip():
        raise BadRowError(where, "no text after the labels; add its text or drop the line.")
    return _labels.row(rest.strip(), found, where, multi_label=len(set(found)) > 1)


@reader("fasttext")
def fasttext(
    path: Path,
    *,
    label_prefix: str = "__label__",
    encoding: str = "utf-8",
    seed: int = 0,
    stratify: bool = True,
    skip_bad_rows: bool = False,
    licence: str = UNKNOWN_LICENCE,
) -> DatasetSpec:
    """fastText supervised files -> a TFDS dataset of `text` and `label`.

    Args:
        path: a fastText file, or a folder of them whose names give their splits by whole
            name parts (`cooking.train`, `cooking.valid`, `test.txt`; a single file is the
            training data). Each line (blank lines skipped) starts with one or more labels,
            tokens that begin with `label_prefix`, and the text follows, stripped. Where any
            line has two different labels the data is multi-label; a line may not lack labels.
        label_prefix: what starts a label token, as fastText's `-label` (default `__label__`).
        encoding: the files' text encoding.
        seed: seed of the validation split (10 %) made when no validation file is given.
        stratify: draw 10 % of each class for validation (`_labels.stratified_split`);
            False draws 10 % of all examples.
        skip_bad_rows: skip the lines refused below by line, and count them, rather than
            refuse the data (`_files.BadRows`; training's `--skip-bad-rows`).
        licence: the data's terms of use, for the model card.

    Returns:
        The spec of `zoo_fasttext/<checksum>`: `text` and `label` (`ClassLabel`, or a
        `Sequence` of it for multi-label data; names without the prefix, in natural order);
        splits train, validation and, with a test file, test.

    Raises:
        BadRowError: (without `skip_bad_rows`) a line without a label or without text, or
            with an empty label (single-label), naming it.
        BadInputError: an empty or blank `label_prefix`, no training file, fewer than two
            labels, (stratified) a class of one example, a file that cannot be read or
            decoded, or one none of whose lines can be read.
    """
    if not label_prefix or any(c.isspace() for c in label_prefix):
        raise BadInputError(
            f"--label-prefix must be non-empty and without blanks; got {label_prefix!r}."
        )
    by_split, unused = _files.split_files(
        path,
        lambda f: not _files.NOTES.search(f.name),
        "a fastText file",
        "cooking.train, train.txt",
    )
    bad = _files.BadRows(skip_bad_rows)
    rows: dict[str, list[_labels.Row]] = {}
    for split, group in by_split.items():
        for file in group:
            expected = f"one '{label_prefix}LABEL text' a line"
            for number, line in _files.data_lines(file, encoding, expected):
                where = f"{file}, line {number}"
                if (
                    found := bad.read(file, where, _labelled, line, label_prefix, where)
                ) is not None:
                    rows.setdefault(split, []).append(found)
    return _labels.classification(
        "zoo_fasttext",
        "fasttext",
        path,
        rows,
        # single-label where every line holds one label (`_labelled`)
        multi_label=any(len(row.labels) != 1 for found in rows.values() for row in found),
        files=by_split,
        unused=unused,
        options={
            "label_prefix": label_prefix,
            "encoding": encoding,
            "seed": seed,
            "stratify": stratify,
        },
        licence=licence,
        bad=bad,
        description="fastText supervised files, prepared by the zoo.",
    )
