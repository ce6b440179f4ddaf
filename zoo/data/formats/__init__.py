"""Files in standard formats turned into TFDS datasets, the way users bring their own data.

Each format reads a folder (or file), checks it, and stores it once as a TFDS dataset in
the zoo's data folder, named by format and content checksum, so that training reads it
through TFDS like any other dataset. CoNLL sentences go through TFDS's own
`ConllDatasetBuilder`; the other formats through `tfds.dataset_builders.store_as_tfds_dataset`.
The zoo reads every file itself, by its format's rules: CSV records as RFC 4180 says (a
quoted field may hold line breaks), TSV and line-based files one line a record (no quoting),
a byte-order mark dropped; hidden files and folders (`.DS_Store`, `.ipynb_checkpoints/`) are
never data. A file lock lets any number of processes prepare the same files at once.

| format | what PATH holds | splits |
|---|---|---|
| `conll` | CoNLL column files, one token a line, blank line between sentences; any column layout (`--columns`), tags in IOB1, IOB2 or BIOES | by file name, or seeded |
| `text-per-class` | one text file per class, one example a line; the label is the extension (`rt-polarity.pos`) or the file stem (`pos.txt`) | seeded split |
| `csv` | a CSV or TSV file (or one per split) with a header; `--columns TEXT,LABEL` names the text and label columns | by file name, or seeded |
| `parallel` | line-aligned `<split>.<lang>[.gz]` files, or `<split>.tsv` files of `source<TAB>target` pairs | by file name, or seeded |
| `captions` | `images/` plus a Flickr8k `*.token.txt` (`<image>#<n>\\t<caption>`) or a `captions.csv` (`image,caption`), and optional train/dev/test image lists (`*.txt`) | the lists, or seeded |
| `tfds` | PATH is a TFDS dataset name; `--rename text=sentence,label=label` maps the task's feature names to the dataset's; translation: `--source`/`--target` name the languages (default: the dataset's supervised keys) | `validation`, or the last 10 % of `train` |
| `image-folder` | one sub-folder of images per class, or `train/`, `val/`, `test/` each holding those; images upright as their EXIF tag says | by folder, or seeded |

Splits are found by whole name parts (`split_of`: `eng.testa`, `my-train.csv`,
`test_2016.de`; never `latest.csv`), and the source record says which file went where.
Where a dataset has no validation split, a seeded 90/10 split of the training data is made
and recorded (`seeded_split`).
"""

from __future__ import annotations

import collections
import contextlib
import csv
import gzip
import hashlib
import inspect
import io
import random
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from zoo.constants import FORMATS
from zoo.data import loading
from zoo.data.images import apply_exif_orientation, fit_to_shape
from zoo.data.spec import DatasetSpec
from zoo.errors import BadInputError, UnknownNameError

#: version of the readers' output. It is part of every stored dataset's checksum, so data
#: prepared by older readers is never reused for the same files (1.1.0: the readers of issue
#: 15: RFC 4180 records, byte-order marks, hidden files, whole-name splits, EXIF orientation)
VERSION = "1.1.0"
UNKNOWN_LICENCE = "not stated: give the data's terms with --data-licence"
VALIDATION_FRACTION = 0.1
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
_NOTES = re.compile(r"^(readme|licen[cs]e|copying|notice|changelog|citation)\b|\.md$", re.I)


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


def _entries(folder: Path) -> list[Path]:
    """What a folder holds, without hidden files and folders (`.DS_Store`, `._x`, ...)."""
    return sorted(p for p in folder.iterdir() if not _hidden(p.name))


def _tree(folder: Path) -> list[Path]:
    """Every file under a folder, none inside a hidden folder (`.ipynb_checkpoints/`)."""
    return sorted(
        f
        for f in folder.rglob("*")
        if f.is_file() and not any(_hidden(part) for part in f.relative_to(folder).parts)
    )


def _assign(items: Iterable[Path]) -> tuple[dict[str, list[Path]], list[Path]]:
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


def _checksum(
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


def _lines(path: Path, encoding: str) -> list[str]:
    """A file's lines (`split_lines`)."""
    return split_lines(read_text(path, encoding))


def split_lines(text: str) -> list[str]:
    """Text cut into lines. Only a line break ends a line: U+2028, NEL (latin-1's byte 0x85)
    or a form feed inside a sentence stay text, as in every line-based tool.

    Args:
        text: text whose line ends are LF (`read_text` turns CRLF and CR into LF).

    Returns:
        The lines, without their line breaks; a final line break ends the last line rather
        than starting an empty one.
    """
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def _seeded_split(examples: list[Any], seed: int) -> dict[str, list[Any]]:
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    cut = max(1, int(len(shuffled) * VALIDATION_FRACTION))
    return {"train": shuffled[cut:], "validation": shuffled[:cut]}


def _spec(
    tfds_name: str,
    splits: Iterable[str],
    source: dict[str, Any],
    licence: str,
    fields: dict[str, str] | None = None,
) -> DatasetSpec:
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


def _source(
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
) -> dict[str, Any]:
    """The card's record of a dataset built from files: which file went to which split, the
    checksums of the examples (`checksum`) and of the files alone (`content`), and the seed
    of a validation split made here (`seeded`, None when the files had one)."""
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
    return source


def split_summary(source: dict[str, Any]) -> str:
    """One line that says which file went to which split, for the command line.

    Args:
        source: a `DatasetSpec.source` made by `prepare`.

    Returns:
        e.g. `train <- train.csv (90 %); validation <- 10 % of train (seed 0); not used:
        notes.csv`.
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
        parts.append(
            f"validation <- {round(100 * seeded['fraction'])} % of train (seed {seeded['seed']})"
        )
    if source.get("not_used"):
        parts.append(f"not used: {', '.join(source['not_used'])}")
    return "; ".join(parts)


@contextlib.contextmanager
def _building(name: str, checksum: str) -> Iterator[bool]:
    """Hold the lock of one prepared dataset while it is built; yields whether it still
    needs building. Other processes preparing the same files wait, then find it built. A
    build that fails leaves nothing behind."""
    config_dir = Path(loading.data_dir()) / name / checksum[:16]
    with loading.preparation_lock(f"{name}/{checksum[:16]}"):
        done = (config_dir / VERSION / "dataset_info.json").exists()
        try:
            yield not done
        except BaseException:
            if not done:
                shutil.rmtree(config_dir, ignore_errors=True)
            raise


def _store(
    name: str,
    checksum: str,
    features: tfds.features.FeatureConnector,
    splits: dict[str, list[dict[str, Any]]],
    description: str,
) -> None:
    """Store examples as a TFDS dataset once; a second call with the same content is free."""
    with _building(name, checksum) as needed:
        if not needed:
            return
        tfds.dataset_builders.store_as_tfds_dataset(
            name=name,
            version=VERSION,
            config=checksum[:16],
            features=features,
            split_datasets={
                split: [(str(i), ex) for i, ex in enumerate(examples)]
                for split, examples in splits.items()
            },
            data_dir=loading.data_dir(),
            description=description,
        )


# --- CoNLL ---------------------------------------------------------------------------------


def _conll_sentences(
    path: Path, lines: list[str], columns: list[str]
) -> Iterator[dict[str, list[str]]]:
    """Check the lines of one CoNLL file and group them into sentences (used to find the
    tag set and to count)."""
    sentence: dict[str, list[str]] = {c: [] for c in columns}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("-DOCSTART-"):
            if sentence[columns[0]]:
                yield sentence
            sentence = {c: [] for c in columns}
            continue
        # columns are separated by any run of spaces and tabs (editors align them and leave
        # trailing spaces); other white space (a no-break space) stays inside a token
        values = re.split(r"[ \t]+", line.strip(" \t\r"))
        if len(values) != len(columns):
            raise BadInputError(
                f"{path}, line {number}: {len(values)} columns, expected {len(columns)} ({' '.join(columns)}); "
                "set the layout with --columns."
            )
        for column, value in zip(columns, values, strict=True):
            sentence[column].append(value)
    if sentence[columns[0]]:
        yield sentence


def tag_scheme(sentences: Iterable[list[str]], path: Path) -> str:
    """IOB1, IOB2 or BIOES, from the tag sequences. Entity F1 (seqeval's conlleval mode)
    reads all three, so tags are kept as they are and the scheme is recorded on the card.

    Args:
        sentences: tag sequences, one list of tags per sentence.
        path: the data's path, for error messages.

    Returns:
        `"BIOES"` when any tag starts `E-` or `S-`; else `"IOB1"` when an `I-` tag opens a
        chunk (after `O` or a tag of another type), else `"IOB2"`.

    Raises:
        BadInputError: a tag that is neither `O` nor `B-`, `I-`, `E-` or `S-` plus a type.
    """
    prefixes, chunk_starts_with_i = set(), False
    for tags in sentences:
        previous = "O"
        for tag in tags:
            prefix, dash, kind = tag.partition("-")
            if tag != "O" and (not dash or not kind or prefix not in ("B", "I", "E", "S")):
                raise BadInputError(
                    f"{path}: tag {tag!r} is neither O nor B-/I-/E-/S-TYPE (IOB1, IOB2 or BIOES)."
                )
            prefixes.add(prefix)
            chunk_starts_with_i |= (
                prefix == "I" and previous.partition("-")[2] != kind
            )  # IOB1: I- opens a chunk
            previous = tag
    if prefixes & {"E", "S"}:
        return "BIOES"
    return "IOB1" if chunk_starts_with_i else "IOB2"


class _ConllFiles(tfds.dataset_builders.ConllDatasetBuilder, skip_registration=True):
    """TFDS's CoNLL builder over the user's sentences, with the tag set found in them.

    The zoo reads the files itself (`_conll_sentences`): columns split at any run of spaces
    and tabs, so trailing spaces and aligned columns that editors write are read; TFDS's own
    reader splits at exactly one separator and fails on them."""

    name = "zoo_conll_files"
    VERSION = tfds.core.Version(VERSION)

    def __init__(self, *, sentences: dict[str, list[dict[str, list[str]]]], **kwargs: Any):
        self._sentences = sentences
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        return self.create_dataset_info(description="CoNLL-format files prepared by the zoo.")

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        return {split: self._generate_examples(split) for split in self._sentences}

    def _generate_examples(self, split: str):
        yield from enumerate(self._sentences[split])


def conll(
    path: Path,
    *,
    columns: str = "tokens pos chunks ner",
    encoding: str = "utf-8",
    seed: int = 0,
    licence: str = UNKNOWN_LICENCE,
) -> DatasetSpec:
    """CoNLL column files -> a TFDS dataset, stored through TFDS's `ConllDatasetBuilder`.

    The zoo reads the files itself, so the whitespace editors add (trailing spaces, runs of
    spaces or tabs between columns, whitespace-only lines) and a byte-order mark are read.

    Args:
        path: a CoNLL file, or a folder of them assigned to splits by whole name parts
            (`split_of`): train -> train, testa, dev or val -> validation, testb or test ->
            test. Without a validation file, a seeded 10 % of the training sentences is.
        columns: the column names in file order, separated by spaces; `tokens` and `ner`
            are required.
        encoding: the files' encoding; only UTF-8 (or ASCII) is accepted.
        seed: seed of the validation split made when no validation file is given.
        licence: the data's terms of use, for the model card.

    Returns:
        The spec of `zoo_conll_files/<checksum>`: one feature per column, each a sequence of
        strings except `ner`, a sequence of `ClassLabel` (`O` first, then the other tags
        sorted); splits train, validation and, with a test file, test. Its `source` records
        the files, checksum, sentence counts, options and the tag scheme (`tag_scheme`).

    Raises:
        BadInputError: an encoding other than UTF-8, `columns` without `tokens` or `ner`, no
            training file (or one sentence only), a line with the wrong number of columns, a file
            without sentences or that cannot be read or decoded, or a malformed tag.
    """
    names = columns.split()
    if encoding.replace("_", "-").lower() not in ("utf-8", "utf8", "utf-8-sig", "ascii"):
        raise BadInputError(
            "TFDS's CoNLL builder reads UTF-8: convert the files first, e.g. iconv -f latin1 -t utf-8."
        )
    if "tokens" not in names or "ner" not in names:
        raise BadInputError(f"--columns must name a 'tokens' and a 'ner' column, got {columns!r}.")
    files = [f for f in _entries(path) if f.is_file()] if path.is_dir() else [path]
    by_split, unused = _assign(files) if path.is_dir() else ({"train": files}, [])
    if "train" not in by_split:
        raise BadInputError(
            f"{path}: no training file (a name with the part 'train', e.g. eng.train or "
            f"train.txt) among {[f.name for f in files]}."
        )
    sentences: dict[str, list[dict[str, list[str]]]] = {}
    for split, group in by_split.items():
        for file in group:
            found = list(_conll_sentences(file, _lines(file, encoding), names))
            if not found:
                raise BadInputError(f"{file}: no sentences found (is the file empty?).")
            sentences.setdefault(split, []).extend(found)
    seeded = None
    if "validation" not in sentences:
        if len(sentences["train"]) < 2:
            raise BadInputError(
                f"{path}: one sentence cannot be split into training and validation; "
                "add sentences or a validation file (dev.txt, eng.testa)."
            )
        sentences.update(_seeded_split(sentences.pop("train"), seed))
        seeded = seed
    sequences = [s["ner"] for group in sentences.values() for s in group]
    scheme = tag_scheme(sequences, path)
    options = {"columns": columns, "encoding": encoding, "seed": seed}
    used = [f for group in by_split.values() for f in group]
    checksum, content = _checksum(used, options)
    tag_names = ["O", *sorted({t for tags in sequences for t in tags} - {"O"})]
    features = collections.OrderedDict(
        (
            c,
            tfds.features.Sequence(tfds.features.ClassLabel(names=tag_names))
            if c == "ner"
            else tfds.features.Sequence(tfds.features.Text()),
        )
        for c in names
    )
    config = tfds.dataset_builders.ConllBuilderConfig(
        name=checksum[:16], separator=" ", ordered_features=features
    )
    with _building("zoo_conll_files", checksum) as needed:
        if needed:
            builder = _ConllFiles(sentences=sentences, config=config, data_dir=loading.data_dir())
            builder.download_and_prepare()
    sizes = {split: len(group) for split, group in sentences.items()}
    source = _source(
        path,
        "conll",
        by_split,
        checksum,
        sizes,
        options,
        content=content,
        seeded=seeded,
        unused=unused,
    )
    source["tag_scheme"] = scheme
    return _spec(f"zoo_conll_files/{checksum[:16]}", sentences, source, licence)


# --- one text file per class -------------------------------------------------------------------


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


def text_per_class(
    path: Path, *, encoding: str = "utf-8", seed: int = 0, licence: str = UNKNOWN_LICENCE
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
        licence: the data's terms of use, for the model card.

    Returns:
        The spec of `zoo_text_per_class/<checksum>`: `text` and `label` (`ClassLabel`, names
        sorted); splits train and validation, no test.

    Raises:
        BadInputError: fewer than two class files, files that follow neither naming rule, an
            empty file, or a file that cannot be read or decoded.
    """
    found = [f for f in _entries(path) if f.is_file()] if path.is_dir() else []
    notes = [f for f in found if _NOTES.search(f.name)]  # a README beside the data
    files = [f for f in found if f not in notes]
    if len(files) < 2:
        raise BadInputError(
            f"{path}: expected a folder with one text file per class (at least two)."
        )
    files, label_of = _class_files(path, files)
    labels = sorted(label_of(f) for f in files)
    examples = []
    for file in files:
        lines = [line.strip() for line in _lines(file, encoding)]
        if not any(lines):
            raise BadInputError(f"{file}: empty file; each class file needs one example a line.")
        examples += [
            {"text": line, "label": labels.index(label_of(file))} for line in lines if line
        ]
    splits = _seeded_split(examples, seed)
    options = {"encoding": encoding, "seed": seed}
    checksum, content = _checksum(files, options)
    features = tfds.features.FeaturesDict(
        {"text": tfds.features.Text(), "label": tfds.features.ClassLabel(names=labels)}
    )
    _store(
        "zoo_text_per_class",
        checksum,
        features,
        splits,
        "One text file per class, prepared by the zoo.",
    )
    sizes = {split: len(v) for split, v in splits.items()}
    return _spec(
        f"zoo_text_per_class/{checksum[:16]}",
        splits,
        _source(
            path,
            "text-per-class",
            {"train": files},
            checksum,
            sizes,
            options,
            content=content,
            seeded=seed,
            unused=notes,
        ),
        licence,
    )


# --- CSV / TSV with a text and a label column ------------------------------------------------------


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


def _table(
    file: Path, encoding: str, width: int | None = None
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Rows of a CSV (comma) or TSV (tab, by extension) file with their line numbers;
    the first row is the header unless `width` (a headerless table) is given."""
    rows = [(n, row) for n, row in _records(file, encoding) if any(cell.strip() for cell in row)]
    if len(rows) < (1 if width else 2):
        raise BadInputError(
            f"{file}: empty file; expected {'rows' if width else 'a header and rows'}."
        )
    header = [] if width else [cell.strip() for cell in rows.pop(0)[1]]
    expected = width or len(header)
    for number, row in rows:
        if len(row) != expected:
            raise BadInputError(
                f"{file}, line {number}: {len(row)} columns, expected {expected}"
                + (f" ({', '.join(header)})." if header else ".")
            )
    return header, rows


def csv_text(
    path: Path,
    *,
    columns: str = "text,label",
    encoding: str = "utf-8",
    seed: int = 0,
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
        encoding: the files' text encoding.
        seed: seed of the validation split (10 %) made when no validation file is given.
        licence: the data's terms of use, for the model card.

    Returns:
        The spec of `zoo_csv_text/<checksum>`: `text` and `label` (`ClassLabel` of the label
        values of every split, stripped and sorted); splits train, validation and, with a
        test file, test.

    Raises:
        BadInputError: `columns` does not name two columns, no training file, a column
            missing from a header, a row of another width, an unbalanced quote, fewer than
            two labels, or a file that cannot be read or decoded.
    """
    names = [c.strip() for c in columns.split(",")]
    if len(names) != 2:
        raise BadInputError(
            f"--columns for csv names the text and the label column, e.g. 'review,sentiment'; got {columns!r}."
        )
    files = (
        [f for f in _entries(path) if f.is_file() and f.suffix.lower() in (".csv", ".tsv")]
        if path.is_dir()
        else [path]
    )
    by_split, unused = _assign(files) if len(files) > 1 else ({"train": files} if files else {}, [])
    if "train" not in by_split:
        raise BadInputError(
            f"{path}: expected a .csv/.tsv file, or one per split with a name part 'train' "
            f"(train.csv, reviews_train.csv) among {[f.name for f in files]}."
        )
    rows: dict[str, list[tuple[str, str]]] = {}
    for split, group in by_split.items():
        for file in group:
            header, table = _table(file, encoding)
            missing = [n for n in names if n not in header]
            if missing:
                raise BadInputError(
                    f"{file}, line 1: no column {missing[0]!r} in the header ({', '.join(header)}); set --columns TEXT,LABEL."
                )
            text_at, label_at = header.index(names[0]), header.index(names[1])
            rows.setdefault(split, []).extend(
                (row[text_at], row[label_at].strip()) for _, row in table
            )
    labels = sorted({label for split_rows in rows.values() for _, label in split_rows})
    if len(labels) < 2:
        raise BadInputError(
            f"{path}: found only the label {labels}; classification needs at least two."
        )
    splits = {
        split: [{"text": t, "label": labels.index(label)} for t, label in split_rows]
        for split, split_rows in rows.items()
    }
    seeded = None
    if "validation" not in splits:
        splits.update(_seeded_split(splits.pop("train"), seed))
        seeded = seed
    options = {"columns": columns, "encoding": encoding, "seed": seed}
    used = [f for group in by_split.values() for f in group]
    checksum, content = _checksum(used, options)
    features = tfds.features.FeaturesDict(
        {"text": tfds.features.Text(), "label": tfds.features.ClassLabel(names=labels)}
    )
    _store(
        "zoo_csv_text",
        checksum,
        features,
        splits,
        "Text and label columns of CSV/TSV files, prepared by the zoo.",
    )
    sizes = {split: len(v) for split, v in splits.items()}
    return _spec(
        f"zoo_csv_text/{checksum[:16]}",
        splits,
        _source(
            path,
            "csv",
            by_split,
            checksum,
            sizes,
            options,
            content=content,
            seeded=seeded,
            unused=unused,
        ),
        licence,
    )


# --- parallel text -------------------------------------------------------------------------------


def parallel(
    path: Path,
    *,
    source: str,
    target: str,
    encoding: str = "utf-8",
    seed: int = 0,
    licence: str = UNKNOWN_LICENCE,
) -> DatasetSpec:
    """Line-aligned parallel text -> a TFDS `Translation` dataset.

    Args:
        path: a folder of `<split>.<lang>[.txt][.gz]` files, line n of the source file
            translating line n of the target file, or of `<split>.tsv[.txt][.gz]` files of
            `source<TAB>target` rows without header and without quoting (quotes are text).
            The split comes from the whole name parts of `<split>` (`split_of`).
        source: the source language code, as in the file names (e.g. `de`).
        target: the target language code (e.g. `en`).
        encoding: the files' text encoding.
        seed: seed of the validation split (10 % of train) made when none is given.
        licence: the data's terms of use, for the model card.

    Returns:
        The spec of `zoo_parallel_text/<checksum>`: a `Translation` feature over both codes,
        `fields` = `{"source": source, "target": target}`; splits train, validation and,
        with test files, test. Pairs with a blank side are dropped.

    Raises:
        BadInputError: no training data, a split lacking one language's file, two files of
            different line counts, a split left without pairs, a TSV row that is not two
            columns, or a file that cannot be read or decoded.
    """
    pattern = re.compile(
        rf"^(?P<prefix>[^.]+)\.(?P<lang>{re.escape(source)}|{re.escape(target)}|tsv)(\.txt)?(\.gz)?$"
    )
    # files by prefix (`train`, `test_2016_flickr`), each prefix holding one split
    groups: dict[str, dict[str, Path]] = collections.defaultdict(dict)
    unused: list[Path] = []
    for file in _entries(path) if path.is_dir() else []:
        match = pattern.match(file.name)
        if match and split_of(match["prefix"]):
            groups[match["prefix"]][match["lang"]] = file
        elif file.is_file():
            unused.append(file)
    pairs: dict[str, list[dict[str, Path]]] = collections.defaultdict(list)
    for prefix, files in sorted(groups.items()):
        pairs[split_of(prefix)].append(files)
    if "train" not in pairs:
        raise BadInputError(
            f"{path}: no training data: train.{source}[.gz] + train.{target}[.gz], or train.tsv."
        )
    splits: dict[str, list[dict[str, str]]] = {}
    for split, group in pairs.items():
        for files in group:
            if "tsv" in files:
                _, rows = _table(files["tsv"], encoding, width=2)
                src, tgt = [row[0] for _, row in rows], [row[1] for _, row in rows]
            elif set(files) != {source, target}:
                raise BadInputError(
                    f"{path}: {next(iter(files.values())).name} lacks its "
                    f"{({source, target} - set(files)).pop()} file."
                )
            else:
                src, tgt = _lines(files[source], encoding), _lines(files[target], encoding)
            if len(src) != len(tgt):
                raise BadInputError(
                    f"{files[source]} has {len(src)} lines but {files[target]} has {len(tgt)}: the files must be line-aligned."
                )
            splits.setdefault(split, []).extend(
                {source: s, target: t}
                for s, t in zip(src, tgt, strict=True)
                if s.strip() and t.strip()
            )
        if not splits[split]:
            raise BadInputError(f"{path}: split {split} has no sentence pairs (empty files?).")
    seeded = None
    if "validation" not in splits:
        splits.update(_seeded_split(splits.pop("train"), seed))
        seeded = seed
    by_split = {
        split: [f for files in group for f in files.values()] for split, group in pairs.items()
    }
    files = [f for group in by_split.values() for f in group]
    options = {"source": source, "target": target, "encoding": encoding, "seed": seed}
    checksum, content = _checksum(files, options)
    _store(
        "zoo_parallel_text",
        checksum,
        tfds.features.Translation(languages=sorted({source, target})),
        splits,
        "Parallel text prepared by the zoo.",
    )
    sizes = {split: len(v) for split, v in splits.items()}
    return _spec(
        f"zoo_parallel_text/{checksum[:16]}",
        splits,
        _source(
            path,
            "parallel",
            by_split,
            checksum,
            sizes,
            options,
            content=content,
            seeded=seeded,
            unused=unused,
        ),
        licence,
        {"source": source, "target": target},
    )


# --- images with captions ------------------------------------------------------------------------


def _caption_table(path: Path, encoding: str) -> tuple[Path, dict[str, list[str]]]:
    """Captions by image file name, from a Flickr8k token file or a CSV with image and caption columns."""
    by_image: dict[str, list[str]] = collections.defaultdict(list)
    visible = [f for f in _entries(path) if f.is_file()]
    tokens = [f for f in visible if f.suffix == ".txt" and "token" in f.name.lower()]
    if tokens:
        for number, line in enumerate(_lines(tokens[0], encoding), 1):
            if not line.strip():
                continue
            key, sep, caption = line.partition("\t")
            if not sep or "#" not in key:
                raise BadInputError(
                    f"{tokens[0]}, line {number}: expected '<image>#<n><TAB><caption>'."
                )
            by_image[key.split("#")[0]].append(caption.strip())
        return tokens[0], by_image
    tables = [f for f in visible if f.suffix.lower() == ".csv"]
    if not tables:
        raise BadInputError(
            f"{path}: expected a Flickr8k-style *.token.txt or a captions.csv (image,caption) beside images/."
        )
    header, rows = _table(tables[0], encoding)
    if header[:2] != ["image", "caption"]:
        raise BadInputError(
            f"{tables[0]}, line 1: the header must start with 'image,caption', got {','.join(header)!r}."
        )
    for _, row in rows:
        by_image[row[0].strip()].append(row[1].strip())
    return tables[0], by_image


def captions(
    path: Path,
    *,
    image_size: int = 128,
    encoding: str = "utf-8",
    seed: int = 0,
    licence: str = UNKNOWN_LICENCE,
) -> DatasetSpec:
    """Images with captions -> a TFDS dataset shaped like `coco_captions`.

    Args:
        path: a folder holding `images/` and either a Flickr8k token file (`*token*.txt`,
            lines `<image>#<n><TAB><caption>`) or a `*.csv` whose header starts
            `image,caption`. Optional image lists (other `*.txt` files with train, dev, val
            or test in their names, one image file name a line) fix the splits.
        image_size: each image is resized to image_size x image_size RGB (aspect ratio not
            kept).
        encoding: the text files' encoding.
        seed: seed of the splits made where lists are missing: validation (10 %) from the
            train list, or train and validation from the captioned images that no list
            names when there is no train list (a test list's images stay out of them).
        licence: the data's terms of use, for the model card.

    Returns:
        The spec of `zoo_captions/<checksum>`: `image` uint8 (image_size, image_size, 3),
        `image/id` int64, `captions` a sequence of `{"text"}`; splits train, validation and,
        with a test list, test.

    Raises:
        BadInputError: no `images/` folder, no caption file, a malformed caption line or
            header, a split without images, an image without a file or captions, or an
            image or text file that cannot be read or decoded.
    """
    if not (path / "images").is_dir():
        raise BadInputError(f"{path}: expected an images/ folder beside the captions file.")
    table, by_image = _caption_table(path, encoding)
    listed = [f for f in _entries(path) if f.is_file() and f.suffix == ".txt" and f != table]
    lists, unused = _assign(listed)
    splits: dict[str, list[str]] = {}
    for split, group in lists.items():
        for file in group:
            splits.setdefault(split, []).extend(
                n.strip() for n in _lines(file, encoding) if n.strip()
            )
    seeded = None
    if "train" not in splits:  # every captioned image no list names
        named = {n for names in splits.values() for n in names}
        splits["train"] = [n for n in sorted(by_image) if n not in named]
    if "validation" not in splits:
        splits.update(_seeded_split(splits.pop("train"), seed))
        seeded = seed
    for split, names in splits.items():
        where = ", ".join(str(f) for f in lists.get(split, [table]))
        if not names:
            raise BadInputError(
                f"{where}: no captioned images for the {split} split "
                f"({len(by_image)} captioned images in all); add captions or images."
            )
        missing = [n for n in names if n not in by_image or not (path / "images" / n).is_file()]
        if missing:
            raise BadInputError(
                f"{where}: {len(missing)} images without a file or captions, e.g. {missing[0]}."
            )
    images = sorted(path / "images" / n for names in splits.values() for n in names)
    options = {"image_size": image_size, "encoding": encoding, "seed": seed}
    list_files = [f for group in lists.values() for f in group]
    checksum, content = _checksum([table, *list_files, *images], options)

    def examples(names: list[str]) -> Iterator[dict[str, Any]]:
        """The examples of one split.

        Args:
            names: image file names under `images/`.

        Returns:
            A generator of `{"image", "image/id", "captions": {"text": [...]}}` dicts, `image/id`
            the position in `names`.
        """
        for i, name in enumerate(names):
            image = _read_image(path / "images" / name, image_size)
            yield {"image": image, "image/id": i, "captions": {"text": by_image[name]}}

    features = tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=(image_size, image_size, 3)),
            "image/id": np.int64,
            "captions": tfds.features.Sequence({"text": tfds.features.Text()}),
        }
    )
    _store(
        "zoo_captions",
        checksum,
        features,
        {s: list(examples(n)) for s, n in splits.items()},
        "Images with captions, prepared by the zoo.",
    )
    sizes = {split: len(v) for split, v in splits.items()}
    return _spec(
        f"zoo_captions/{checksum[:16]}",
        splits,
        _source(
            path,
            "captions",
            {"captions": [table], **lists},
            checksum,
            sizes,
            options,
            content=content,
            seeded=seeded,
            unused=unused,
        ),
        licence,
    )


# --- image folders ---------------------------------------------------------------------------------

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _square(image: tf.Tensor | np.ndarray, size: int) -> np.ndarray:
    """An RGB image at size x size, resized exactly as `predict` resizes its inputs."""
    return fit_to_shape(tf.convert_to_tensor(image, tf.uint8), (size, size, 3)).numpy()


def _read_image(file: Path, size: int) -> np.ndarray:
    """An RGB image, upright as its EXIF tag says, resized to size x size, or an error that
    names the file."""
    try:
        data = file.read_bytes()
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, OSError) as err:
        raise BadInputError(f"{file}: not a readable image (PNG or JPEG expected).") from err
    return _square(apply_exif_orientation(image, data), size)


def _class_images(folder: Path) -> tuple[list[tuple[Path, str]], list[Path]]:
    """(image, class) pairs under a folder of class folders (an image may sit deeper inside
    its class folder), and the files that are not images of a class (notes, loose files)."""
    examples, unused = [], []
    for file in _tree(folder):
        parts = file.relative_to(folder).parts
        if _NOTES.search(file.name) or len(parts) == 1:
            unused.append(file)
        elif file.suffix.lower() not in IMAGE_SUFFIXES:
            raise BadInputError(
                f"{file}: unknown image format {file.suffix!r}; convert it to PNG or JPEG, or remove it."
            )
        else:
            examples.append((file, parts[0]))
    return examples, unused


def image_folder(
    path: Path, *, image_size: int = 32, seed: int = 0, licence: str = UNKNOWN_LICENCE
) -> DatasetSpec:
    """One folder of images per class -> a TFDS dataset of RGB `image` and `label`.

    Args:
        path: a folder holding one sub-folder of PNG or JPEG images per class, or split
            folders (`train/`, `val/` or `dev/`, `test/`, matched by whole name parts) each
            holding such class folders. Hidden files and folders and notes are skipped; EXIF
            orientation is applied.
        image_size: each image is resized to image_size x image_size RGB (aspect ratio not
            kept).
        seed: seed of the validation split (10 %) made where the data has none.
        licence: the data's terms of use, for the model card.

    Returns:
        The spec of `zoo_image_folder/<checksum>`: `image` uint8 (image_size, image_size, 3)
        and `label` (`ClassLabel`, folder names sorted); splits train, validation and, with
        a test folder, test.

    Raises:
        BadInputError: a file that is not PNG or JPEG (by extension) or does not decode,
            fewer than two classes, or no training images.
    """
    folders = [d for d in _entries(path) if d.is_dir()] if path.is_dir() else []
    by_split, others = _assign(folders)
    examples: dict[str, list[tuple[Path, str]]] = {}
    unused: list[Path] = []
    if "train" in by_split:  # train/ val/ test/, each with class folders
        unused = [f for d in others for f in _tree(d)]
        for split, group in by_split.items():
            for folder in group:
                found, skipped = _class_images(folder)
                examples.setdefault(split, []).extend(found)
                unused += skipped
    elif folders:  # class folders only
        examples["train"], unused = _class_images(path)
    seeded = None
    if examples.get("train") and "validation" not in examples:
        examples.update(_seeded_split(examples.pop("train"), seed))
        seeded = seed
    labels = sorted({label for split in examples.values() for _, label in split})
    if len(labels) < 2 or not examples.get("train"):
        raise BadInputError(
            f"{path}: expected one sub-folder of PNG/JPEG images per class (at least two), "
            "optionally inside train/, val/ and test/."
        )

    def encoded(split_examples: list[tuple[Path, str]]) -> list[dict[str, Any]]:
        """The stored examples of one split.

        Args:
            split_examples: (image file, class name) pairs.

        Returns:
            `{"image": uint8 (image_size, image_size, 3), "label": class index}` dicts.
        """
        # every image is decoded (and a bad one named) here, before `_store` writes anything
        return [
            {"image": _read_image(file, image_size), "label": labels.index(label)}
            for file, label in split_examples
        ]

    options = {"image_size": image_size, "seed": seed}
    files = sorted(f for split in examples.values() for f, _ in split)
    checksum, content = _checksum(files, options, root=path)
    features = tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=(image_size, image_size, 3)),
            "label": tfds.features.ClassLabel(names=labels),
        }
    )
    stored = {s: encoded(e) for s, e in examples.items()}
    _store("zoo_image_folder", checksum, features, stored, "Image folders, prepared by the zoo.")
    sizes = {split: len(v) for split, v in examples.items()}
    split_files = by_split if "train" in by_split else {"train": folders}
    return _spec(
        f"zoo_image_folder/{checksum[:16]}",
        examples,
        _source(
            path,
            "image-folder",
            split_files,
            checksum,
            sizes,
            options,
            content=content,
            seeded=seeded,
            unused=unused,
        ),
        licence,
    )


# --- any TFDS dataset -------------------------------------------------------------------------------


def tfds_dataset(
    name: str,
    *,
    rename: str | None = None,
    source: str | None = None,
    target: str | None = None,
    seed: int = 0,
    licence: str = "see the TFDS catalogue entry",
) -> DatasetSpec:
    """A TFDS dataset by name (`imdb_reviews`, `glue/sst2`), with `rename` mapping the task's
    feature names to the dataset's (`text=sentence,label=label`). Its validation split is
    `validation` if it has one, else the last 10 % of `train`. For a translation dataset the
    source and target languages are `source` and `target`, by default the dataset's own
    `supervised_keys` (TFDS's translation builders list them as (source, target)).

    Nothing is stored: the spec points at the dataset itself, which is prepared (or
    downloaded) when a task loads it.

    Args:
        name: a TFDS name, optionally with config.
        rename: comma-separated `MINE=THEIRS` pairs, the task's feature name first.
        source: the source language's feature (translation), e.g. `pt`.
        target: the target language's feature (translation), e.g. `en`.
        seed: not used: the validation split is taken by position.
        licence: the data's terms of use, for the model card.

    Returns:
        The spec: train `train` (or `train[:90%]`), validation `validation` (or
        `train[90%:]`), test `test` where the dataset has one; `rename` as a dict; `fields`
        `{"source", "target"}` for a translation dataset (or when `source`/`target` are given).

    Raises:
        BadInputError: `rename` is malformed, or it, `source` or `target` names a feature the
            dataset lacks.
        UnknownNameError: TFDS knows no dataset of that name.
    """
    info = loading.info(name)
    features = set(info.features.keys())
    pairs = [item.partition("=") for item in (rename or "").split(",") if item.strip()]
    mapping = {mine.strip(): theirs.strip() for mine, sep, theirs in pairs if sep}
    if len(mapping) != len(pairs) or not set(mapping.values()) <= features:
        raise BadInputError(
            f"--rename must be TASK_FEATURE=DATASET_FEATURE pairs over {sorted(features)}; got {rename!r}."
        )
    if isinstance(info.features, tfds.features.Translation) and info.supervised_keys:
        source, target = source or info.supervised_keys[0], target or info.supervised_keys[1]
    languages = {}
    if source or target:
        if source not in features or target not in features:
            raise BadInputError(
                f"--source and --target must both name features of {name} ({', '.join(sorted(features))}); "
                f"got {source!r} and {target!r}."
            )
        languages = {"source": source, "target": target}
    splits = set(info.splits.keys())
    has_validation = "validation" in splits
    return DatasetSpec(
        name,
        train="train" if has_validation else "train[:90%]",
        validation="validation" if has_validation else "train[90%:]",
        test="test" if "test" in splits else None,
        source={
            "path": name,
            "format": "tfds",
            "options": {k: v for k, v in {"rename": rename, **languages}.items() if v is not None},
            "tfds_version": str(info.version),
        },
        licence=licence,
        rename=mapping,
        fields=languages,
    )


#: the reader of each of `zoo.constants.FORMATS`
READERS: dict[str, Callable[..., DatasetSpec]] = {
    "conll": conll,
    "text-per-class": text_per_class,
    "csv": csv_text,
    "parallel": parallel,
    "captions": captions,
    "image-folder": image_folder,
    "tfds": tfds_dataset,
}


def prepare(path: str | Path, format: str, **options: Any) -> DatasetSpec:
    """Check the files at `path`, store them as a TFDS dataset (once) and describe it.

    A second call on the same content and options finds the stored dataset by its checksum
    and writes nothing. Any number of processes may prepare the same data at once: a file
    lock lets one build it while the others wait, then read it.

    Args:
        path: the data's file or folder (`~` is expanded), or, for `tfds`, a TFDS name.
        format: one of `zoo.constants.FORMATS`: `conll`, `text-per-class`, `csv`,
            `parallel`, `captions`, `image-folder` or `tfds`.
        **options: keyword options of the format's reader (`columns`, `encoding`, `source`,
            `target`, `image_size`, `rename`, `seed`, `licence`). None values are dropped, so
            unset command-line flags take the reader's defaults.

    Returns:
        The dataset's `DatasetSpec`; its `source` records where the data came from.

    Raises:
        UnknownNameError: an unknown format.
        BadInputError: `path` does not exist, an option does not apply to the format, or
            the data cannot be read (see each reader).
    """
    if format not in FORMATS:
        raise UnknownNameError("data format", format, FORMATS)
    reader = READERS[format]
    if format != "tfds":  # a TFDS dataset is named, not found on disk
        path = Path(path).expanduser()
        if not path.exists():
            raise BadInputError(f"{path} does not exist.")
    given = {k: v for k, v in options.items() if v is not None}
    accepted = inspect.signature(reader).parameters
    unknown = sorted(k for k in given if k not in accepted)
    if unknown:
        raise BadInputError(f"option(s) {', '.join(unknown)} do not apply to format {format!r}.")
    return reader(path, **given)
