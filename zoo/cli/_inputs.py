"""The files of `zoo predict --input FILE --output FILE`: inputs read one a line, from a
JSONL field or from a CSV/TSV column, and results written as JSON lines; `-` is standard
input or output.

Blank inputs (an empty or whitespace-only line, field or cell) are skipped and counted, so
one stray line does not stop a long run; every result names the line it came from. An
input that is not blank but cannot be read stops the run with its line named, and an
`--output` file is written only once every input has been predicted.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from zoo.errors import BadInputError
from zoo.registry.layout import partial_path
from zoo_runtime.visible import is_blank

STDIO = "-"
#: file name endings that choose `--input-format` when it is not given
SUFFIX_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv"}
DEFAULT_COLUMN = "text"


@dataclass
class Inputs:
    """What an input file holds.

    Attributes:
        where: the file's name for messages (`standard input` for `-`).
        records: `(line, input)` per non-blank input, in file order: the line its record
            starts on (counting from 1) and its value (a string, or what a JSON field holds).
        blank: the lines of blank inputs, skipped.
    """

    where: str
    records: list[tuple[int, Any]] = field(default_factory=list)
    blank: list[int] = field(default_factory=list)


def input_format(path: str, given: str | None) -> str:
    """The format to read `path` in: the one given, else by its ending (`SUFFIX_FORMATS`),
    else one input a line.

    Args:
        path: the `--input` file, or `-`.
        given: `--input-format`, or None.

    Returns:
        `lines`, `jsonl` or `csv` (`zoo.constants.INPUT_FORMATS`).
    """
    return given or SUFFIX_FORMATS.get(Path(path).suffix.lower(), "lines")


def _read(path: str, encoding: str, newline: str | None) -> str:
    """The text of a file, or of standard input for `-`, without a byte-order mark."""
    from zoo.data import formats

    if path != STDIO:
        return formats.read_text(Path(path), encoding, newline=newline)
    stream = io.TextIOWrapper(sys.stdin.buffer, encoding=encoding, newline=newline)
    try:
        return stream.read().removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        raise BadInputError(
            f"standard input: not valid {encoding} text; pass its encoding, e.g. --encoding latin-1."
        ) from err
    finally:
        stream.detach()  # sys.stdin stays open


def _blank(value: Any) -> bool:
    """An input with nothing to read: blank or invisible text (`zoo.data.visible.is_blank`),
    or an empty token list."""
    return (isinstance(value, str) and is_blank(value)) or value == []


def read_inputs(
    path: str, fmt: str, *, column: str | None = None, encoding: str = "utf-8"
) -> Inputs:
    """Read the inputs of a file.

    Args:
        path: the file, or `-` for standard input.
        fmt: `lines` (one input a line), `jsonl` (one JSON object a line; the input is its
            `column` field, a string or, for token-list tasks, a list) or `csv` (a header row,
            then one input a row in its `column` column; TSV, without quoting, for a `.tsv`
            file).
        column: the JSONL field or CSV column (default: `text`); not for `lines`.
        encoding: the text encoding (a byte-order mark is dropped).

    Returns:
        The `Inputs`: non-blank inputs with their line numbers, and the blank lines skipped.

    Raises:
        BadInputError: the file cannot be read or decoded, `column` given for `lines`, a JSONL
            line that is not a JSON object or lacks the field, a CSV without a header or
            without the column (the message names the line and what there is).
    """
    from zoo.data import formats

    where = "standard input" if path == STDIO else path
    if fmt == "lines" and column is not None:
        raise BadInputError(
            "--column names a JSONL field or a CSV column; not for --input-format lines."
        )
    column = column or DEFAULT_COLUMN
    tsv = fmt == "csv" and path.lower().endswith(".tsv")
    text = _read(path, encoding, newline="" if fmt == "csv" and not tsv else None)
    if fmt == "lines":
        values = list(enumerate(formats.split_lines(text), 1))
    elif fmt == "jsonl":
        values = [
            (n, _json_field(line, column, f"{where}, line {n}"))
            for n, line in enumerate(formats.split_lines(text), 1)
        ]
    else:
        values = _column(formats.parse_records(text, tsv=tsv, where=where), column, where)
    inputs = Inputs(where)
    for line, value in values:
        if _blank(value):
            inputs.blank.append(line)
        else:
            inputs.records.append((line, value))
    return inputs


def _json_field(line: str, column: str, where: str) -> Any:
    """The field of one JSONL line; a blank line is a blank input."""
    if not line.strip():
        return ""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        raise BadInputError(f"{where}: not JSON ({err.msg} at character {err.pos}).") from err
    if not isinstance(record, dict) or column not in record:
        fields = ", ".join(record) if isinstance(record, dict) else "none: not a JSON object"
        raise BadInputError(f"{where}: no field {column!r} (fields: {fields}); set --column NAME.")
    value = record[column]
    # a missing value (null) or a number, object or flag is no input: never a word
    if not isinstance(value, str) and not (
        isinstance(value, list) and all(isinstance(token, str) for token in value)
    ):
        raise BadInputError(
            f"{where}: field {column!r} is {_kind(value)}, not text (or a list of tokens); "
            "fill it in or remove the line."
        )
    return value


def _kind(value: Any) -> str:
    """A JSON value's kind, in words, for an error message."""
    if value is None:
        return "null (a missing value)"
    if isinstance(value, bool):
        return f"the flag {json.dumps(value)}"
    if isinstance(value, int | float):
        return f"the number {value}"
    return "an object" if isinstance(value, dict) else "a list of non-text items"


def _column(records: list[tuple[int, list[str]]], column: str, where: str) -> list[tuple[int, str]]:
    """One column of CSV records, the first being the header; blank rows are blank inputs."""
    if not records:
        raise BadInputError(f"{where}: empty file; expected a header row, then one input a row.")
    header = [cell.strip() for cell in records[0][1]]
    if column not in header:
        raise BadInputError(
            f"{where}, line 1: no column {column!r} in the header ({', '.join(header)}); set --column NAME."
        )
    at = header.index(column)
    return [(n, row[at] if at < len(row) else "") for n, row in records[1:]]


@contextlib.contextmanager
def output(path: str | None) -> Iterator[TextIO]:
    """Where results go: standard output, or a file that appears, complete, only when the
    block succeeds (written beside it under a temporary name, then renamed).

    Args:
        path: the `--output` file; None or `-` for standard output.

    Returns:
        A context manager yielding a text stream to write JSON lines to.

    Raises:
        BadInputError: the file's folder does not exist or cannot be written.
    """
    if path in (None, STDIO):
        yield sys.stdout
        return
    target = Path(path)
    temporary = partial_path(target)
    try:
        stream = temporary.open("w", encoding="utf-8")
    except OSError as err:
        raise BadInputError(f"cannot write {target}: {err}") from err
    try:
        with stream:
            yield stream
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def result_line(line: int | None, value: Any, result: Any) -> str:
    """One JSON line of `zoo predict`'s output.

    Args:
        line: the input's line in its file, or None for a command-line argument.
        value: the input as given (a string, or a token list from a JSONL field).
        result: the model's readable result for it.

    Returns:
        `{"line", "input", "output"}` as JSON (`line` only for inputs read from a file),
        non-ASCII characters kept as they are.
    """
    record = {"input": value, "output": result}
    return json.dumps({"line": line, **record} if line is not None else record, ensure_ascii=False)


def writes_csv(path: str | None) -> bool:
    """Whether `zoo predict --output PATH` writes a CSV table rather than JSON lines.

    Args:
        path: the `--output` value, or None.

    Returns:
        True for a file name ending in `.csv` (any case).
    """
    return path not in (None, STDIO) and str(path).lower().endswith(".csv")


class ResultTable:
    """`zoo predict`'s results as one CSV table: a row per input, a column per result field.

    A nested mapping (a classifier's `probabilities`) becomes a column per key
    (`probabilities.pos`), a list of names (a multi-label classifier's `labels`) one cell
    joined by `|`, anything else non-text a JSON cell. Columns appear in the order first
    met; a row without one leaves it empty (e.g. `truncated`, or labels beyond `--top-k`).
    """

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.columns: dict[str, None] = {}

    def add(self, line: int | None, value: Any, result: Any) -> None:
        """Add one input's row.

        Args:
            line: the input's line in its file, or None for a command-line argument.
            value: the input as given.
            result: the model's readable result for it.
        """
        row: dict[str, Any] = {} if line is None else {"line": line}
        row["input"] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        for key, cell in (result if isinstance(result, dict) else {"output": result}).items():
            if isinstance(cell, dict):
                row.update({f"{key}.{name}": v for name, v in cell.items()})
            elif isinstance(cell, list) and all(isinstance(v, str) for v in cell):
                row[key] = "|".join(cell)
            else:
                row[key] = cell if isinstance(cell, str | int | float) else json.dumps(cell)
        self.columns.update(dict.fromkeys(row))
        self.rows.append(row)

    def write(self, stream: TextIO) -> None:
        """Write the header and every row (RFC 4180, `csv` module).

        Args:
            stream: a text stream opened with `newline=""` or standard output.
        """
        writer = csv.DictWriter(stream, fieldnames=list(self.columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
