"""CSV and TSV files with a header, a text column and a label column (`--format csv`); with a
label delimiter the label column holds any number of labels (`a|b`)."""

from __future__ import annotations

from pathlib import Path

from zoo.data.formats import _files, _labels
from zoo.data.formats._dataset import UNKNOWN_LICENCE, reader
from zoo.data.spec import DatasetSpec
from zoo.errors import BadInputError


def text_and_label(columns: str, fmt: str) -> tuple[str, str]:
    """The text and label names of `--columns TEXT,LABEL`.

    Args:
        columns: the option as given.
        fmt: the format, for the message.

    Returns:
        `(text, label)`, stripped.

    Raises:
        BadInputError: `columns` does not name two columns.
    """
    names = [c.strip() for c in columns.split(",")]
    if len(names) != 2:
        raise BadInputError(
            f"--columns for {fmt} names the text and the label column, e.g. 'review,sentiment'; got {columns!r}."
        )
    return names[0], names[1]


@reader("csv")
def csv_text(
    path: Path,
    *,
    columns: str = "text,label",
    label_delimiter: str | None = None,
    encoding: str = "utf-8",
    seed: int = 0,
    stratify: bool = True,
    skip_bad_rows: bool = False,
    licence: str = UNKNOWN_LICENCE,
) -> DatasetSpec:
    """CSV or TSV files with a text and a label column -> a TFDS dataset of `text` and `label`.

    Args:
        path: a `.csv` file (RFC 4180: quoted fields may hold commas, quotes and line
            breaks) or a `.tsv` file (one record a line, split at tabs, no quoting), or a
            folder of them. In a folder of several, each file's split comes from its whole
            name parts (`split_of`); files whose names say no split are not used (and
            reported). A single file is the training data. Every file starts with a header
            row; a byte-order mark is dropped.
        columns: `TEXT,LABEL`: the header names of the text and the label column.
        label_delimiter: makes the data multi-label: each label cell is split at it (`a|b`
            holds the labels `a` and `b`; an empty cell holds none). Without it each cell is
            one label, and an empty one is refused.
        encoding: the files' text encoding.
        seed: seed of the validation split (10 %) made when no validation file is given.
        stratify: draw 10 % of each class for validation (`_labels.stratified_split`);
            False draws 10 % of all examples, as the zoo did before.
        skip_bad_rows: skip the rows refused below by line, and count them, rather than
            refuse the data (`_files.BadRows`; training's `--skip-bad-rows`).
        licence: the data's terms of use, for the model card.

    Returns:
        The spec of `zoo_csv_text/<checksum>`: `text` and `label` (`ClassLabel` of the label
        values of every split, stripped, in natural order; with `label_delimiter` a
        `Sequence` of it); splits train, validation and, with a test file, test.

    Raises:
        BadInputError: `columns` does not name two columns, an empty `label_delimiter`, no
            training file, a column missing from a header, an unbalanced quote, fewer than
            two labels, (stratified) a class of one example, a file that cannot be read or
            decoded, or one none of whose rows can be read.
        BadRowError: (without `skip_bad_rows`) a row of another width, an empty text or an
            empty label (single-label), naming it.
    """
    text_name, label_name = text_and_label(columns, "csv")
    if label_delimiter == "":
        raise BadInputError("--label-delimiter must be one or more characters, e.g. '|'.")
    by_split, unused = _files.split_files(
        path,
        lambda f: f.suffix.lower() in (".csv", ".tsv"),
        "a .csv/.tsv file",
        "train.csv, reviews_train.csv",
    )
    rows: dict[str, list[_labels.Row]] = {}
    bad = _files.BadRows(skip_bad_rows)
    for split, group in by_split.items():
        for file in group:
            header, table = _files.table(file, encoding, bad=bad)
            missing = [n for n in (text_name, label_name) if n not in header]
            if missing:
                raise BadInputError(
                    f"{file}, line 1: no column {missing[0]!r} in the header ({', '.join(header)}); set --columns TEXT,LABEL."
                )
            text_at, label_at = header.index(text_name), header.index(label_name)
            for number, row in table:
                where = f"{file}, line {number}"
                labels = (
                    row[label_at].split(label_delimiter) if label_delimiter else [row[label_at]]
                )
                found = bad.read(
                    file,
                    where,
                    _labels.row,
                    row[text_at],
                    labels,
                    where,
                    multi_label=bool(label_delimiter),
                )
                if found is not None:
                    rows.setdefault(split, []).append(found)
    options = {"columns": columns, "encoding": encoding, "seed": seed, "stratify": stratify}
    if label_delimiter:
        options["label_delimiter"] = label_delimiter
    return _labels.classification(
        "zoo_csv_text",
        "csv",
        path,
        rows,
        multi_label=bool(label_delimiter),
        files=by_split,
        unused=unused,
        options=options,
        licence=licence,
        bad=bad,
        description="Text and label columns of CSV/TSV files, prepared by the zoo.",
    )
