"""Files in standard formats turned into TFDS datasets, the way users bring their own data.

Each format reads a folder (or file), checks it, and stores it once as a TFDS dataset in
the zoo's data folder, named by format and content checksum, so that training reads it
through TFDS like any other dataset. CoNLL files go through TFDS's own
`ConllDatasetBuilder`; the other formats through `tfds.dataset_builders.store_as_tfds_dataset`.

| format | what PATH holds | splits |
|---|---|---|
| `conll` | CoNLL column files, one token a line, blank line between sentences; any column layout (`--columns`), tags in IOB1, IOB2 or BIOES | by file name: *train*, *testa*/*dev*/*val* -> validation, *testb*/*test* -> test |
| `text-per-class` | one text file per class, one example a line; the label is the extension (`rt-polarity.pos`) or the file stem (`pos.txt`) | seeded split |
| `csv` | a CSV or TSV file (or one per split) with a header; `--columns TEXT,LABEL` names the text and label columns | by file name, or seeded |
| `parallel` | line-aligned `<split>.<lang>[.gz]` files, or `<split>.tsv` files of `source<TAB>target` pairs | by file name: train, val/valid/dev -> validation, test* -> test |
| `captions` | `images/` plus a Flickr8k `*.token.txt` (`<image>#<n>\\t<caption>`) or a `captions.csv` (`image,caption`), and optional `*train*`/`*dev*`/`*test*` image lists | the lists, or seeded |
| `tfds` | PATH is a TFDS dataset name; `--rename text=sentence,label=label` maps the task's feature names to the dataset's | `validation`, or the last 10 % of `train` |
| `image-folder` | one sub-folder of images per class, or `train/`, `val/`, `test/` each holding those (read by TFDS's `ImageFolder`) | by folder, or seeded |

Where a dataset has no validation split, one is made with a recorded seed.
"""

from __future__ import annotations

import collections
import csv
import gzip
import hashlib
import inspect
import random
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from zoo.constants import FORMATS
from zoo.data import loading
from zoo.data.images import fit_to_shape
from zoo.data.spec import DatasetSpec
from zoo.errors import BadInputError, UnknownNameError

VERSION = "1.0.0"
UNKNOWN_LICENCE = "not stated: give the data's terms with --data-licence"
VALIDATION_FRACTION = 0.1
_SPLIT_WORDS = (
    ("train", "train"),
    ("testa", "validation"),
    ("testb", "test"),
    ("dev", "validation"),
    ("val", "validation"),
    ("test", "test"),
)


def _split_of(filename: str) -> str | None:
    name = filename.lower()
    return next((split for word, split in _SPLIT_WORDS if word in name), None)


def _checksum(files: Iterable[Path], options: dict[str, Any]) -> str:
    digest = hashlib.sha256(repr(sorted(options.items())).encode())
    for path in sorted(files):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _lines(path: Path, encoding: str) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding=encoding) as handle:
            return handle.read().splitlines()
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1 if path.suffix != ".gz" else "?"
        raise BadInputError(
            f"{path}, line {line}: not valid {encoding} text; pass the file's encoding, e.g. --encoding latin-1."
        ) from err
    except OSError as err:
        raise BadInputError(f"cannot read {path}: {err}") from err


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
    files: list[Path],
    checksum: str,
    sizes: dict[str, int],
    options: dict[str, Any],
) -> dict[str, Any]:
    return {
        "path": str(path),
        "format": fmt,
        "validation_fraction_if_split_here": VALIDATION_FRACTION,
        "files": sorted(f.name for f in files),
        "sha256": checksum,
        "examples": sizes,
        "options": options,
    }


def _store(
    name: str,
    checksum: str,
    features: tfds.features.FeatureConnector,
    splits: dict[str, list[dict[str, Any]]],
    description: str,
) -> None:
    """Store examples as a TFDS dataset once; a second call with the same content is free."""
    builder_dir = Path(loading.data_dir()) / name / checksum[:16] / VERSION
    if (builder_dir / "dataset_info.json").exists():
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
        values = line.split()
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
    """TFDS's CoNLL builder over the user's files, with the tag set found in them."""

    name = "zoo_conll_files"
    VERSION = tfds.core.Version(VERSION)

    def __init__(self, *, files: dict[str, Path], **kwargs: Any):
        self._files = files
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        return self.create_dataset_info(description="CoNLL-format files prepared by the zoo.")

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        return {split: self._generate_examples(path) for split, path in self._files.items()}

    def _generate_examples(self, filepaths):
        # TFDS yields an empty example for a trailing blank line; drop it
        for key, example in super()._generate_examples(filepaths):
            if example["tokens"]:
                yield key, example


def conll(
    path: Path,
    *,
    columns: str = "tokens pos chunks ner",
    encoding: str = "utf-8",
    seed: int = 0,
    licence: str = UNKNOWN_LICENCE,
) -> DatasetSpec:
    """CoNLL column files -> a TFDS dataset, through TFDS's `ConllDatasetBuilder`.

    Args:
        path: a folder of CoNLL files, assigned to splits by name: *train* -> train,
            *testa*, *dev* or *val* -> validation, *testb* or *test* -> test. A single file
            fills one split only, so it is always refused: a validation file is required.
        columns: the column names in file order, separated by spaces; `tokens` and `ner`
            are required. Columns are split on tabs when the first 200 lines of any file hold
            one, else on spaces.
        encoding: the files' encoding; only UTF-8 (or ASCII) is accepted.
        seed: not used: CoNLL data must bring its own validation file.
        licence: the data's terms of use, for the model card.

    Returns:
        The spec of `zoo_conll_files/<checksum>`: one feature per column, each a sequence of
        strings except `ner`, a sequence of `ClassLabel` (`O` first, then the other tags
        sorted); splits train, validation and, with a test file, test. Its `source` records
        the files, checksum, sentence counts, options and the tag scheme (`tag_scheme`).

    Raises:
        BadInputError: an encoding other than UTF-8, `columns` without `tokens` or `ner`, no
            training or no validation file, a line with the wrong number of columns, a file
            without sentences or that cannot be read or decoded, or a malformed tag.
    """
    names = columns.split()
    if encoding.replace("_", "-").lower() not in ("utf-8", "utf8", "ascii"):
        raise BadInputError(
            "TFDS's CoNLL builder reads UTF-8: convert the files first, e.g. iconv -f latin1 -t utf-8."
        )
    if "tokens" not in names or "ner" not in names:
        raise BadInputError(f"--columns must name a 'tokens' and a 'ner' column, got {columns!r}.")
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    by_split = {split: f for f in files if f.is_file() and (split := _split_of(f.name))}
    if "train" not in by_split:
        raise BadInputError(
            f"{path}: no training file (a name containing 'train') among {[f.name for f in files]}."
        )
    if "validation" not in by_split:
        raise BadInputError(
            f"{path}: no validation file (a name containing 'testa', 'dev' or 'val')."
        )
    sequences: list[list[str]] = []
    sizes = {}
    tabs = False
    for split, file in by_split.items():
        lines = _lines(file, encoding)
        tabs |= any("\t" in line for line in lines[:200])
        sentences = list(_conll_sentences(file, lines, names))
        if not sentences:
            raise BadInputError(f"{file}: no sentences found (is the file empty?).")
        sizes[split] = len(sentences)
        sequences += [s["ner"] for s in sentences]
    scheme = tag_scheme(sequences, path)
    options = {"columns": columns, "encoding": encoding}
    checksum = _checksum(by_split.values(), options)
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
    # TFDS's builder splits on one separator: tab when the files use tabs, else space
    config = tfds.dataset_builders.ConllBuilderConfig(
        name=checksum[:16], separator="\t" if tabs else " ", ordered_features=features
    )
    _ConllFiles(files=by_split, config=config, data_dir=loading.data_dir()).download_and_prepare()
    source = _source(path, "conll", list(by_split.values()), checksum, sizes, options)
    source["tag_scheme"] = scheme
    return _spec(f"zoo_conll_files/{checksum[:16]}", by_split, source, licence)


# --- one text file per class -------------------------------------------------------------------


def text_per_class(
    path: Path, *, encoding: str = "utf-8", seed: int = 0, licence: str = UNKNOWN_LICENCE
) -> DatasetSpec:
    """One text file per class -> a TFDS dataset of `text` and `label`.

    Args:
        path: a folder of at least two files (hidden ones ignored), one example a line
            (stripped; blank lines skipped). The label is each file's stem (`pos.txt` ->
            `pos`) or, when every file has the same stem, its extension (`rt-polarity.pos`
            -> `pos`).
        encoding: the files' text encoding.
        seed: seed of the train/validation split (10 % validation, at least one example).
        licence: the data's terms of use, for the model card.

    Returns:
        The spec of `zoo_text_per_class/<checksum>`: `text` and `label` (`ClassLabel`, names
        sorted); splits train and validation, no test.

    Raises:
        BadInputError: fewer than two files, an empty file, or a file that cannot be read or
            decoded.
    """
    files = (
        sorted(f for f in path.iterdir() if f.is_file() and not f.name.startswith("."))
        if path.is_dir()
        else []
    )
    if len(files) < 2:
        raise BadInputError(
            f"{path}: expected a folder with one text file per class (at least two)."
        )
    stems = {f.stem for f in files}
    label_of: Callable[[Path], str] = (
        (lambda f: f.suffix.lstrip(".")) if len(stems) == 1 else (lambda f: f.stem)
    )
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
    checksum = _checksum(files, options)
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
        _source(path, "text-per-class", files, checksum, sizes, options),
        licence,
    )


# --- CSV / TSV with a text and a label column ------------------------------------------------------


def _table(
    file: Path, encoding: str, width: int | None = None
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Rows of a CSV (comma) or TSV (tab, by extension) file with their line numbers;
    the first row is the header unless `width` (a headerless table) is given."""
    delimiter = "\t" if ".tsv" in file.suffixes else ","
    lines = _lines(file, encoding)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        rows = [(n, row) for n, row in enumerate(reader, 1) if any(cell.strip() for cell in row)]
    except csv.Error as err:
        raise BadInputError(
            f'{file}, line {reader.line_num}: {err}. An unbalanced quote (") makes the rest of the '
            "file one field: close or escape it; a text field longer than that must be shortened."
        ) from err
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
        path: a `.csv` or `.tsv` file (tab-separated), or a folder of them. In a folder of
            several, each file's split comes from its name (*train*, *dev* or *val* ->
            validation, *test*); files whose names say no split are ignored. A single file
            is the training data. Every file starts with a header row.
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
        sorted(f for f in path.iterdir() if f.suffix in (".csv", ".tsv"))
        if path.is_dir()
        else [path]
    )
    by_split = (
        {split: f for f in files if (split := _split_of(f.name))}
        if len(files) > 1
        else {"train": files[0]}
        if files
        else {}
    )
    if "train" not in by_split:
        raise BadInputError(
            f"{path}: expected a .csv/.tsv file, or one per split with 'train' in a file name."
        )
    rows: dict[str, list[tuple[str, str]]] = {}
    for split, file in by_split.items():
        header, table = _table(file, encoding)
        missing = [n for n in names if n not in header]
        if missing:
            raise BadInputError(
                f"{file}, line 1: no column {missing[0]!r} in the header ({', '.join(header)}); set --columns TEXT,LABEL."
            )
        text_at, label_at = header.index(names[0]), header.index(names[1])
        rows[split] = [(row[text_at], row[label_at].strip()) for _, row in table]
    labels = sorted({label for split_rows in rows.values() for _, label in split_rows})
    if len(labels) < 2:
        raise BadInputError(
            f"{path}: found only the label {labels}; classification needs at least two."
        )
    splits = {
        split: [{"text": t, "label": labels.index(label)} for t, label in split_rows]
        for split, split_rows in rows.items()
    }
    if "validation" not in splits:
        splits.update(_seeded_split(splits.pop("train"), seed))
    options = {"columns": columns, "encoding": encoding, "seed": seed}
    checksum = _checksum(by_split.values(), options)
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
        _source(path, "csv", list(by_split.values()), checksum, sizes, options),
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
            `source<TAB>target` rows without header. The split comes from `<split>`: train,
            val/valid/dev -> validation, test* -> test.
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
        rf"^(?P<split>[^.]+)\.(?P<lang>{re.escape(source)}|{re.escape(target)}|tsv)(\.txt)?(\.gz)?$"
    )
    pairs: dict[str, dict[str, Path]] = collections.defaultdict(dict)
    for file in sorted(path.iterdir()) if path.is_dir() else []:
        match = pattern.match(file.name)
        if match and (split := _split_of(match["split"])):
            pairs[split][match["lang"]] = file
    if "train" not in pairs:
        raise BadInputError(
            f"{path}: no training data: train.{source}[.gz] + train.{target}[.gz], or train.tsv."
        )
    splits: dict[str, list[dict[str, str]]] = {}
    for split, files in pairs.items():
        if "tsv" in files:
            _, rows = _table(files["tsv"], encoding, width=2)
            src, tgt = [row[0] for _, row in rows], [row[1] for _, row in rows]
        elif set(files) != {source, target}:
            raise BadInputError(
                f"{path}: split {split} lacks its {({source, target} - set(files)).pop()} file."
            )
        else:
            src, tgt = _lines(files[source], encoding), _lines(files[target], encoding)
        if len(src) != len(tgt):
            raise BadInputError(
                f"{files[source]} has {len(src)} lines but {files[target]} has {len(tgt)}: the files must be line-aligned."
            )
        splits[split] = [
            {source: s, target: t} for s, t in zip(src, tgt, strict=True) if s.strip() and t.strip()
        ]
        if not splits[split]:
            raise BadInputError(f"{path}: split {split} has no sentence pairs (empty files?).")
    if "validation" not in splits:
        splits.update(_seeded_split(splits.pop("train"), seed))
    files = [f for pair in pairs.values() for f in pair.values()]
    options = {"source": source, "target": target, "encoding": encoding, "seed": seed}
    checksum = _checksum(files, options)
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
        _source(path, "parallel", files, checksum, sizes, options),
        licence,
        {"source": source, "target": target},
    )


# --- images with captions ------------------------------------------------------------------------


def _caption_table(path: Path, encoding: str) -> tuple[Path, dict[str, list[str]]]:
    """Captions by image file name, from a Flickr8k token file or a CSV with image and caption columns."""
    by_image: dict[str, list[str]] = collections.defaultdict(list)
    tokens = sorted(path.glob("*token*.txt"))
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
    tables = sorted(path.glob("*.csv"))
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
            train list, or train and validation from every captioned image when there is no
            train list. In that case a test list's images are drawn into them too.
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
    lists = {
        split: f for f in sorted(path.glob("*.txt")) if f != table and (split := _split_of(f.name))
    }
    splits = {}
    for split, file in lists.items():
        splits[split] = [n.strip() for n in _lines(file, encoding) if n.strip()]
    if "train" not in splits:
        splits = {
            **{k: v for k, v in splits.items() if k == "test"},
            **_seeded_split(sorted(by_image), seed),
        }
    elif "validation" not in splits:
        splits.update(_seeded_split(splits.pop("train"), seed))
    for split, names in splits.items():
        if not names:
            raise BadInputError(
                f"{lists.get(split, table)}: no captioned images for the {split} split "
                f"({len(by_image)} captioned images in all); add captions or images."
            )
        missing = [n for n in names if n not in by_image or not (path / "images" / n).is_file()]
        if missing:
            where = lists.get(split, table)
            raise BadInputError(
                f"{where}: {len(missing)} images without a file or captions, e.g. {missing[0]}."
            )
    images = sorted(path / "images" / n for names in splits.values() for n in names)
    options = {"image_size": image_size, "encoding": encoding, "seed": seed}
    checksum = _checksum([table, *lists.values(), *images], options)

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
        _source(path, "captions", [table, *lists.values()], checksum, sizes, options),
        licence,
    )


# --- image folders ---------------------------------------------------------------------------------

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")  # what TFDS's ImageFolder reads


def _square(image: tf.Tensor | np.ndarray, size: int) -> np.ndarray:
    """An RGB image at size x size, resized exactly as `predict` resizes its inputs."""
    return fit_to_shape(tf.convert_to_tensor(image, tf.uint8), (size, size, 3)).numpy()


def _read_image(file: Path, size: int) -> np.ndarray:
    """An RGB image resized to size x size, or an error that names the file."""
    try:
        image = tf.io.decode_image(file.read_bytes(), channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, OSError) as err:
        raise BadInputError(f"{file}: not a readable image (PNG or JPEG expected).") from err
    return _square(image, size)


def _image_files(folder: Path) -> list[Path]:
    files = sorted(f for f in folder.rglob("*") if f.is_file() and not f.name.startswith("."))
    unknown = [f for f in files if f.suffix.lower() not in IMAGE_SUFFIXES]
    if unknown:
        raise BadInputError(
            f"{unknown[0]}: unknown image format {unknown[0].suffix!r}; convert it to PNG or JPEG, or remove it."
        )
    return files


def image_folder(
    path: Path, *, image_size: int = 32, seed: int = 0, licence: str = UNKNOWN_LICENCE
) -> DatasetSpec:
    """One folder of images per class -> a TFDS dataset of RGB `image` and `label`.

    Args:
        path: a folder holding one sub-folder of PNG or JPEG images per class (a seeded
            split), or `train/`, `val/` (or `dev/`) and `test/` folders each holding such
            class folders (read by TFDS's `ImageFolder`).
        image_size: each image is resized to image_size x image_size RGB (aspect ratio not
            kept).
        seed: seed of the validation split (10 %) made from class folders without split
            folders.
        licence: the data's terms of use, for the model card.

    Returns:
        The spec of `zoo_image_folder/<checksum>`: `image` uint8 (image_size, image_size, 3)
        and `label` (`ClassLabel`, folder names sorted); splits train, validation and, with
        a test folder, test. With split folders, the validation split is not made when the
        data lacks one, though the spec names it.

    Raises:
        BadInputError: a file that is not PNG or JPEG (by extension) or does not decode,
            fewer than two classes, or no training images.
    """
    folders = sorted(d for d in path.iterdir() if d.is_dir()) if path.is_dir() else []
    by_split = {split: d for d in folders if (split := _split_of(d.name))}
    files = _image_files(path)
    examples: dict[str, list[tuple[Path | np.ndarray, str]]] = {}
    if (
        "train" in by_split
    ):  # train/ val/ test/, each with class folders: TFDS's ImageFolder reads it
        for file in files:  # its decoding errors do not name the file: check each one first
            _read_image(file, 1)
        builder = tfds.ImageFolder(str(path), shape=(None, None, 3))
        names = builder.info.features["label"].names
        for split, folder in by_split.items():
            ds = builder.as_dataset(split=folder.name, shuffle_files=False)
            examples[split] = [(ex["image"], names[ex["label"]]) for ex in ds.as_numpy_iterator()]
    elif folders:  # class folders only: a seeded validation split
        examples = _seeded_split([(f, f.parent.name) for f in files if f.parent != path], seed)
    labels = sorted({label for split in examples.values() for _, label in split})
    if len(labels) < 2 or not examples.get("train"):
        raise BadInputError(
            f"{path}: expected one sub-folder of PNG/JPEG images per class (at least two), "
            "optionally inside train/, val/ and test/."
        )

    def encoded(split_examples: list[tuple[Path | np.ndarray, str]]) -> list[dict[str, Any]]:
        # every image is decoded (and a bad one named) here, before `_store` writes anything
        """The stored examples of one split.

        Args:
            split_examples: (image file or decoded uint8 array, class name) pairs.

        Returns:
            `{"image": uint8 (image_size, image_size, 3), "label": class index}` dicts.
        """
        return [
            {
                "image": _read_image(x, image_size)
                if isinstance(x, Path)
                else _square(x, image_size),
                "label": labels.index(label),
            }
            for x, label in split_examples
        ]

    options = {"image_size": image_size, "seed": seed}
    checksum = _checksum(files, options)
    features = tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=(image_size, image_size, 3)),
            "label": tfds.features.ClassLabel(names=labels),
        }
    )
    _store(
        "zoo_image_folder",
        checksum,
        features,
        {s: encoded(e) for s, e in examples.items()},
        "Image folders, prepared by the zoo.",
    )
    sizes = {split: len(v) for split, v in examples.items()}
    return _spec(
        f"zoo_image_folder/{checksum[:16]}",
        examples,
        _source(path, "image-folder", files, checksum, sizes, options),
        licence,
    )


# --- any TFDS dataset -------------------------------------------------------------------------------


def tfds_dataset(
    name: str,
    *,
    rename: str | None = None,
    seed: int = 0,
    licence: str = "see the TFDS catalogue entry",
) -> DatasetSpec:
    """A TFDS dataset by name (`imdb_reviews`, `glue/sst2`), with `rename` mapping the task's
    feature names to the dataset's (`text=sentence,label=label`). Its validation split is
    `validation` if it has one, else the last 10 % of `train`.

    Nothing is stored: the spec points at the dataset itself, which is prepared (or
    downloaded) when a task loads it.

    Args:
        name: a TFDS name, optionally with config.
        rename: comma-separated `MINE=THEIRS` pairs, the task's feature name first.
        seed: not used: the validation split is taken by position.
        licence: the data's terms of use, for the model card.

    Returns:
        The spec: train `train` (or `train[:90%]`), validation `validation` (or
        `train[90%:]`), test `test` where the dataset has one; `rename` as a dict; no
        `fields`.

    Raises:
        BadInputError: `rename` is malformed or names a feature the dataset lacks.
        tfds.core.DatasetNotFoundError: TFDS knows no dataset of that name.
    """
    info = loading.info(name)
    features = set(info.features.keys())
    pairs = [item.partition("=") for item in (rename or "").split(",") if item.strip()]
    mapping = {mine.strip(): theirs.strip() for mine, sep, theirs in pairs if sep}
    if len(mapping) != len(pairs) or not set(mapping.values()) <= features:
        raise BadInputError(
            f"--rename must be TASK_FEATURE=DATASET_FEATURE pairs over {sorted(features)}; got {rename!r}."
        )
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
            "options": {"rename": rename} if rename else {},
            "tfds_version": str(info.version),
        },
        licence=licence,
        rename=mapping,
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
    and writes nothing.

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
