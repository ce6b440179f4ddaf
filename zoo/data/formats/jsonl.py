"""JSON Lines (`--format jsonl`): one JSON object a line with a text and a label field; a
label is a string or a whole number, or a list of them for multi-label data."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from zoo.data.formats import _files, _labels
from zoo.data.formats._dataset import UNKNOWN_LICENCE, reader
from zoo.data.formats.csv_text import text_and_label
from zoo.data.spec import DatasetSpec
from zoo.errors import BadRowError


def _what(value: Any) -> str:
    """What a JSON value is, in a message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else "a string"


def _text(value: str, where: str, what: str) -> str:
    """A JSON string that is text: JSON may escape half a surrogate pair (`"\\ud800"`), which
    no text encoding can store."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise BadRowError(
            where,
            f"{what} holds {value[err.start]!r}, half of a UTF-16 surrogate pair and no "
            "character: fix or drop the line.",
        ) from err
    return value


def _name(value: Any, where: str, what: str) -> str:
    """A label name from a JSON string or whole number (stars `5` -> `"5"`); anything else
    is refused, so that a missing value never becomes a label."""
    if isinstance(value, str):
        return _text(value, where, what)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise BadRowError(
        where,
        f"{what} is {_what(value)}; a label is a string or a whole number (a list of "
        "them for multi-label data): fix or drop the line.",
    )


def _record(line: str, where: str, text_name: str, label_name: str) -> tuple[str, Any]:
    """The text and the raw label of one line."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise BadRowError(
            where, f"not valid JSON ({err.msg}, column {err.colno}); write one JSON object a line."
        ) from err
    except (ValueError, RecursionError) as err:  # a number of 4,301 digits, lists 1,000 deep
        raise BadRowError(
            where,
            f"JSON that Python does not read ({type(err).__name__}: {str(err)[:80]}); "
            "write one plain JSON object a line.",
        ) from err
    if not isinstance(record, dict):
        raise BadRowError(
            where,
            f'expected a JSON object such as {{"{text_name}": "...", "{label_name}": "..."}}, '
            f"got {_what(record)}.",
        )
    for key in (text_name, label_name):
        if key not in record:
            raise BadRowError(
                where, f"no key {key!r} (keys: {', '.join(record)}); set --columns TEXT,LABEL."
            )
    text = record[text_name]
    if not isinstance(text, str):
        raise BadRowError(
            where,
            f"the text {text_name!r} is {_what(text)}; every text must be a JSON "
            "string: fix or drop the line.",
        )
    return _text(text, where, f"the text {text_name!r}"), record[label_name]


@reader("jsonl")
def jsonl(
    path: Path,
    *,
    columns: str = "text,label",
    encoding: str = "utf-8",
    seed: int = 0,
    stratify: bool = True,
    skip_bad_rows: bool = False,
    licence: str = UNKNOWN_LICENCE,
) -> DatasetSpec:
    """JSON Lines files with a text and a label field -> a TFDS dataset of `text` and `label`.

    Args:
        path: a `.jsonl` (or `.ndjson`) file, one JSON object a line (blank lines skipped),
            or a folder of them whose names give their splits as for `csv` (`train.jsonl`,
            `dev.jsonl`, `test.jsonl`; a single file is the training data). A label is a
            string or a whole number (`5` is the label `"5"`); where labels are lists
            (`["sports", "politics"]`, possibly empty) the data is multi-label, and then every
            line's label must be a list. Texts must be strings: null, numbers, booleans,
            objects and lists are refused, as are such labels and fractional numbers.
        columns: `TEXT,LABEL`: the keys of the text and the label.
        encoding: the files' text encoding.
        seed: seed of the validation split (10 %) made when no validation file is given.
        stratify: draw 10 % of each class for validation (`_labels.stratified_split`);
            False draws 10 % of all examples.
        skip_bad_rows: skip the lines refused below by line, and count them, rather than
            refuse the data (`_files.BadRows`; training's `--skip-bad-rows`).
        licence: the data's terms of use, for the model card.

    Returns:
        The spec of `zoo_jsonl_text/<checksum>`: `text` and `label` (`ClassLabel`, or a
        `Sequence` of it for list labels, names in natural order); splits train, validation
        and, with a test file, test.

    Raises:
        BadRowError: (without `skip_bad_rows`) naming the file and line: invalid JSON, a line
            that is not an object, a missing key, a text that is not a string or is empty, a
            label that is not a string or a whole number (or a list of them), a list label
            beside a single one (the first line read well decides), an empty label
            (single-label).
        BadInputError: no training file, fewer than two labels, (stratified) a class of one
            example, a file that cannot be read or decoded, or one none of whose lines can be
            read.
    """
    text_name, label_name = text_and_label(columns, "jsonl")
    by_split, unused = _files.split_files(
        path,
        lambda f: f.suffix.lower() in (".jsonl", ".ndjson"),
        "a .jsonl file",
        "train.jsonl, reviews_train.jsonl",
    )
    rows: dict[str, list[_labels.Row]] = {}
    first: tuple[bool, str] | None = None  # whether the first label is a list, and where

    def parse(line: str, where: str) -> _labels.Row:
        nonlocal first
        text, label = _record(line, where, text_name, label_name)
        names = label if isinstance(label, list) else [label]
        found = _labels.row(
            text,
            [_name(n, where, f"the label {label_name!r}") for n in names],
            where,
            multi_label=isinstance(label, list),
        )
        first = first or (isinstance(label, list), where)
        if isinstance(label, list) != first[0]:
            raise BadRowError(
                where,
                f"the label is {_what(label)}, but at {first[1]} it is "
                f"{'a list' if first[0] else 'a single label'}: give every line a list "
                "of labels (multi-label data) or every line one label.",
            )
        return found

    bad = _files.BadRows(skip_bad_rows)
    for split, group in by_split.items():
        for file in group:
            for number, line in _files.data_lines(file, encoding, "one JSON object a line"):
                where = f"{file}, line {number}"
                if (found := bad.read(file, where, parse, line, where)) is not None:
                    rows.setdefault(split, []).append(found)
    return _labels.classification(
        "zoo_jsonl_text",
        "jsonl",
        path,
        rows,
        multi_label=first is not None and first[0],
        files=by_split,
        unused=unused,
        options={"columns": columns, "encoding": encoding, "seed": seed, "stratify": stratify},
        licence=licence,
        bad=bad,
        description="Text and label fields of JSON Lines files, prepared by the zoo.",
    )
