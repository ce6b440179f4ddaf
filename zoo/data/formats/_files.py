"""Reading users' files, shared by every format: which files hold data and which split each
holds, their text (encodings, byte-order marks, line ends), CSV/TSV records, and the checksum
that names a stored dataset."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import hashlib
import io
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from zoo.errors import BadInputError, BadRowError

_T = TypeVar("_T")

#: version of the readers' output. It is part of every stored dataset's checksum, so data
#: prepared by older readers is never reused for the same files (1.1.0: the readers of issue
#: 15: RFC 4180 records, byte-order marks, hidden files, whole-name splits, EXIF orientation).
#: Issue 27 (stratified splits, natural label order, multi-label) left the stored examples of
#: unchanged options as they were, so it is unchanged: the new options are in the checksum
#: instead (`zoo.data.formats._labels.checksum_options`).
VERSION = "1.1.0"
#: name parts that say which split a file (or folder) holds; a part may end in digits
#: (`test2016`, `dev2010`), but `interval` or `latest` hold no split
SPLIT_WORDS = {
    "train": "train",
    "training": "train",
    "dev": "validation",
    "val": "validation",
    "valid": "validation",
    "validation": "validation",
    "testa": "validation",
    "test": "test",
    "testing": "test",
    "testb": "test",
}
#: what operating systems, notebooks and editors leave beside data: never read as data
_SYSTEM_FILES = {"Thumbs.db", "desktop.ini", "__MACOSX"}
#: notes that travel with data sets (the MR data's README): never a class or an example
NOTES = re.compile(r"^(readme|licen[cs]e|copying|notice|changelog|citation)\b|\.md$", re.I)


#: how many skipped rows the card and the command line name, of any number skipped
SHOWN_SKIPPED = 5


@dataclasses.dataclass
class BadRows:
    """The rows of one reading that cannot be examples (`BadRowError`): refused, the
    default, or, where the user asks (`skip`, training's `--skip-bad-rows`), skipped and
    counted. Every check of a row, in any reader and at any stage (a CSV row's width in
    `table`, then its fields), goes through one `read`, so that skipping is decided once.

    A row is named by `where`, the same at every stage (`reviews.csv, line 7`), so that a row
    read well by one stage and refused by a later one counts as bad, once.
    """

    skip: bool = False
    #: every row read, in the order first read (a file's rows in order), -> its file
    _seen: dict[str, str] = dataclasses.field(default_factory=dict)
    #: the bad ones, with why
    _bad: dict[str, BadRowError] = dataclasses.field(default_factory=dict)

    def read(
        self, file: Path, where: str, parse: Callable[..., _T], *args: Any, **kwargs: Any
    ) -> _T | None:
        """`parse(*args, **kwargs)`, or None for a bad row when skipping.

        Args:
            file: the file the row is in.
            where: the row, as messages name it.
            parse: checks the row and returns what the reader keeps of it; raises
                `BadRowError` for a bad one.
            *args: its arguments.
            **kwargs: its keyword arguments.

        Returns:
            What `parse` returns, or None where it refused the row and `skip` is set.

        Raises:
            BadRowError: the row is bad and `skip` is not set.
        """
        self._seen.setdefault(where, str(file))
        try:
            return parse(*args, **kwargs)
        except BadRowError as err:
            if not self.skip:
                raise
            self._bad.setdefault(where, err)
            return None

    def record(self) -> dict[str, Any] | None:
        """What the card records of the rows skipped: their count and the first few.

        Returns:
            `{"count": N, "first": [where, ...]}`, in the files' order, or None where no row
            was skipped.

        Raises:
            BadInputError: a file none of whose rows could be read: skipping would train on
                nothing of it, so it is refused with its first bad row.
        """
        skipped = [where for where in self._seen if where in self._bad]
        good = {file for where, file in self._seen.items() if where not in self._bad}
        for file in dict.fromkeys(self._seen[where] for where in skipped):
            if file not in good:
                rows = [where for where in skipped if self._seen[where] == file]
                raise BadInputError(
                    f"{file}: none of its {len(rows)} rows can be read, so skipping them leaves "
                    f"nothing; the first: {self._bad[rows[0]]}"
                )
        return {"count": len(skipped), "first": skipped[:SHOWN_SKIPPED]} if skipped else None


def split_of(filename: str) -> str | None:
    """The split a file or folder name says it holds, from its whole name parts.

    Names are cut into parts at `.`, `_`, `-`, spaces, digits and lower-to-upper case
    changes (`Flickr_8k.trainImages.txt` -> flickr, 8, k, train, images, txt); the first
    part that is a split word decides (`SPLIT_WORDS`).

    Args:
        filename: a file or folder name, without its folder.

    Returns:
        `train`, `validation` or `test`, or None for a name that says no split.
    """
    for part in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", filename):
        if (split := SPLIT_WORDS.get(part.lower())) is not None:
            return split
    return None


def _hidden(name: str) -> bool:
    return name.startswith(".") or name in _SYSTEM_FILES


def entries(folder: Path) -> list[Path]:
    """What a folder holds, without hidden files and folders (`.DS_Store`, `._x`, ...)."""
    return sorted(p for p in folder.iterdir() if not _hidden(p.name))


def tree(folder: Path) -> list[Path]:
    """Every file under a folder, none inside a hidden folder (`.ipynb_checkpoints/`)."""
    return sorted(
        f
        for f in folder.rglob("*")
        if f.is_file() and not any(_hidden(part) for part in f.relative_to(folder).parts)
    )


def assign(items: Iterable[Path]) -> tuple[dict[str, list[Path]], list[Path]]:
    """Files (or folders) by the split their names say, and those that say none."""
    by_split: dict[str, list[Path]] = {}
    unused = []
    for item in items:
        split = split_of(item.name)
        if split is None:
            unused.append(item)
        else:
            by_split.setdefault(split, []).append(item)
    return by_split, unused


def split_files(
    path: Path, accept: Callable[[Path], bool], expected: str, example: str
) -> tuple[dict[str, list[Path]], list[Path]]:
    """The data files of a file-or-folder format and the split of each: a single file (or a
    folder holding one) is the training data; in a folder of several, each file's split comes
    from its whole name parts (`split_of`), and files whose names say none are not used.

    Args:
        path: the file or folder the user gave.
        accept: which files in a folder are data files (by name).
        expected: what a data file is, for the error message (`a .csv/.tsv file`).
        example: names of training files, for the error message (`train.csv, reviews_train.csv`).

    Returns:
        `(files by split, files not used)`.

    Raises:
        BadInputError: no training file.
    """
    files = [f for f in entries(path) if f.is_file() and accept(f)] if path.is_dir() else [path]
    by_split, unused = assign(files) if len(files) > 1 else ({"train": files} if files else {}, [])
    if "train" not in by_split:
        raise BadInputError(
            f"{path}: expected {expected}, or one per split with a name part 'train' "
            f"({example}) among {[f.name for f in files]}."
        )
    return by_split, unused


def class_folders(
    path: Path, read: Callable[[Path], tuple[list[tuple[Path, str]], list[Path]]]
) -> tuple[dict[str, list[tuple[Path, str]]], dict[str, list[Path]], list[Path]]:
    """The examples of a folder of class folders, or of split folders (`train/`, `val/` or
    `dev/`, `test/`, matched by whole name parts) each holding class folders.

    Args:
        path: the folder the user gave.
        read: `class_files` of one folder of class folders, or a reader built on it.

    Returns:
        `(examples by split, split folders, not used)`: examples are `(file, class)` pairs;
        with split folders, folders whose names say no split are not used.
    """
    folders = [d for d in entries(path) if d.is_dir()] if path.is_dir() else []
    by_split, others = assign(folders)
    examples: dict[str, list[tuple[Path, str]]] = {}
    unused: list[Path] = []
    if "train" in by_split:  # train/ val/ test/, each with class folders
        unused = [f for d in others for f in tree(d)]
        for split, group in by_split.items():
            for folder in group:
                found, skipped = read(folder)
                examples.setdefault(split, []).extend(found)
                unused += skipped
    elif folders:  # class folders only
        examples["train"], unused = read(path)
    return examples, by_split if "train" in by_split else {"train": folders}, unused


def class_files(folder: Path) -> tuple[list[tuple[Path, str]], list[Path]]:
    """(file, class) pairs under a folder of class folders (a file may sit deeper inside its
    class folder), and the files that are no example of a class (notes, loose files)."""
    examples, unused = [], []
    for file in tree(folder):
        parts = file.relative_to(folder).parts
        if NOTES.search(file.name) or len(parts) == 1:
            unused.append(file)
        else:
            examples.append((file, parts[0]))
    return examples, unused


def checksum(
    files: Iterable[Path], options: dict[str, Any], root: Path | None = None
) -> tuple[str, str]:
    """Two SHA-256 digests, each file read once: over the reader version, the options and
    each file's name and content (what decides the stored examples), and over the files'
    names and contents alone (which files these are, however they are read or split: a card
    compares it to tell a model's own training files read with other options).

    Returns:
        `(checksum, content_checksum)`, hex.
    """
    digest = hashlib.sha256(f"{VERSION} {sorted(options.items())!r}".encode())
    content = hashlib.sha256()
    for path in sorted(files):
        name = str(path.relative_to(root) if root else path.name).encode()
        data = hashlib.sha256(path.read_bytes()).digest()
        for each in (digest, content):
            each.update(name)
            each.update(data)
    return digest.hexdigest(), content.hexdigest()


def read_text(path: Path, encoding: str = "utf-8", newline: str | None = None) -> str:
    """A file's text (gzip too), without a byte-order mark: editors and spreadsheets write
    one, and it must not become part of a header name or of the first token.

    Args:
        path: the file; a `.gz` file is decompressed.
        encoding: its text encoding.
        newline: as `open` takes it: with None, CRLF and CR line ends read as LF; `""` keeps
            them (for the `csv` module).

    Returns:
        The text.

    Raises:
        BadInputError: the file cannot be read, or is not valid `encoding` text (the message
            names the line).
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding=encoding, newline=newline) as handle:
            text = handle.read()
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1 if path.suffix != ".gz" else "?"
        raise BadInputError(
            f"{path}, line {line}: not valid {encoding} text; pass the file's encoding, e.g. --encoding latin-1."
        ) from err
    except OSError as err:
        raise BadInputError(f"cannot read {path}: {err}") from err
    return text.removeprefix("\ufeff")


def lines(path: Path, encoding: str) -> list[str]:
    """A file's lines (`split_lines`)."""
    return split_lines(read_text(path, encoding))


def data_lines(path: Path, encoding: str, expected: str) -> list[tuple[int, str]]:
    """A line-based file's lines that are not blank, with their line numbers (from 1).

    Args:
        path: the file.
        encoding: its text encoding.
        expected: what a line holds, for the message of an empty file.

    Raises:
        BadInputError: the file has no such line, or cannot be read or decoded.
    """
    found = [(n, line) for n, line in enumerate(lines(path, encoding), 1) if line.strip()]
    if not found:
        raise BadInputError(f"{path}: empty file; expected {expected}.")
    return found


def split_lines(text: str) -> list[str]:
    """Text cut into lines. Only a line break ends a line: U+2028, NEL (latin-1's byte 0x85)
    or a form feed inside a sentence stay text, as in every line-based tool.

    Args:
        text: text whose line ends are LF (`read_text` turns CRLF and CR into LF).

    Returns:
        The lines, without their line breaks; a final line break ends the last line rather
        than starting an empty one.
    """
    found = text.split("\n")
    return found[:-1] if found[-1] == "" else found


def _records(file: Path, encoding: str) -> list[tuple[int, list[str]]]:
    """The records of a CSV or TSV file (by extension), with their first line numbers."""
    tsv = ".tsv" in file.suffixes
    return parse_records(
        read_text(file, encoding, newline=None if tsv else ""), tsv=tsv, where=str(file)
    )


def parse_records(text: str, *, tsv: bool, where: str) -> list[tuple[int, list[str]]]:
    """The records of CSV or TSV text, with their first line numbers.

    Args:
        text: the text. CSV follows RFC 4180: the `csv` module reads the records, so a quoted
            field may hold commas, quotes and line breaks, kept as written (read the text with
            `newline=""` to keep CRLF inside fields). TSV has no quoting: one line is one
            record, split at tabs, and quotes are text.
        tsv: read `text` as TSV rather than CSV.
        where: the file's name, for error messages.

    Returns:
        `(first line number, fields)` per record, blank records included.

    Raises:
        BadInputError: CSV the `csv` module cannot read (an unbalanced quote); the message
            names the line.
    """
    if tsv:
        return [(n, line.split("\t")) for n, line in enumerate(split_lines(text), 1)]
    reader = csv.reader(io.StringIO(text, newline=""))
    records, line = [], 1
    try:
        for row in reader:
            records.append((line, row))
            line = reader.line_num + 1
    except csv.Error as err:
        raise BadInputError(
            f'{where}, line {line}: {err}. An unbalanced quote (") makes the rest of the '
            "file one field: close or escape it; a text field longer than that must be shortened."
        ) from err
    return records


def table(
    file: Path, encoding: str, width: int | None = None, bad: BadRows | None = None
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Rows of a CSV (comma) or TSV (tab, by extension) file with their line numbers;
    the first row is the header unless `width` (a headerless table) is given. A row of
    another width is bad (`BadRowError`): refused, or skipped where `bad` skips."""
    rows = [(n, row) for n, row in _records(file, encoding) if any(cell.strip() for cell in row)]
    if len(rows) < (1 if width else 2):
        raise BadInputError(
            f"{file}: empty file; expected {'rows' if width else 'a header and rows'}."
        )
    header = [] if width else [cell.strip() for cell in rows.pop(0)[1]]
    expected = width or len(header)

    def fits(number: int, row: list[str]) -> tuple[int, list[str]]:
        if len(row) != expected:
            raise BadRowError(
                f"{file}, line {number}",
                f"{len(row)} columns, expected {expected}"
                + (f" ({', '.join(header)})." if header else "."),
            )
        return number, row

    bad = bad or BadRows()
    kept = [bad.read(file, f"{file}, line {n}", fits, n, row) for n, row in rows]
    return header, [row for row in kept if row is not None]
