"""Files in standard formats turned into TFDS datasets, the way users bring their own data.

Each format reads a folder (or file), checks it, and stores it once as a TFDS dataset in
the zoo's data folder, named by format and content checksum, so that training reads it
through TFDS like any other dataset. CoNLL sentences go through TFDS's own
`ConllDatasetBuilder`; the other formats through `tfds.dataset_builders.store_as_tfds_dataset`.
The zoo reads every file itself, by its format's rules: CSV records as RFC 4180 says (a
quoted field may hold line breaks), TSV and line-based files one line a record (no quoting),
a byte-order mark dropped; hidden files and folders (`.DS_Store`, `.ipynb_checkpoints/`) are
never data. A file lock lets any number of processes prepare the same files at once.

One module a format, each registering its reader with `@reader("name")` (`_dataset.py`);
what they share is in `_files.py` (reading files, splits by name, checksums), `_dataset.py`
(storing and describing a dataset) and `_labels.py` (the classification formats' labels,
stored features and stratified split). A new format is one new module, imported below, and
its name in `zoo.constants.FORMATS`.

| format | what PATH holds | splits |
|---|---|---|
| `conll` | CoNLL column files, one token a line, blank line between sentences; any column layout (`--columns`), tags in IOB1, IOB2 or BIOES | by file name, or seeded |
| `text-per-class` | one text file per class, one example a line; the label is the extension (`rt-polarity.pos`) or the file stem (`pos.txt`) | seeded split (stratified) |
| `csv` | a CSV or TSV file (or one per split) with a header; `--columns TEXT,LABEL` names the text and label columns; `--label-delimiter '|'` makes the label column multi-label (`a|b`, an empty cell: no label) | by file name, or seeded (stratified) |
| `jsonl` | a JSON Lines file (or one per split), one object a line; `--columns TEXT,LABEL` names the keys; a label is a string or a whole number, or a list of them (multi-label) | by file name, or seeded (stratified) |
| `text-folder` | one sub-folder of `.txt` files per class, one example a file, or `train/`, `val/`, `test/` each holding those (Keras's `text_dataset_from_directory` layout) | by folder, or seeded (stratified) |
| `trec` | TREC question files, `DESC:manner How did ...?` a line (`train_5500.label`; the test file renamed `test.label`); `--labels coarse` (6 classes) or `fine` (50, `DESC:manner`) | by file name, or seeded (stratified) |
| `fasttext` | fastText supervised files, `__label__a __label__b text` a line (`--label-prefix`); multi-label where a line has two labels | by file name, or seeded (stratified) |
| `parallel` | line-aligned `<split>.<lang>[.gz]` files, or `<split>.tsv` files of `source<TAB>target` pairs | by file name, or seeded |
| `captions` | `images/` plus a Flickr8k `*.token.txt` (`<image>#<n>\\t<caption>`) or a `captions.csv` (`image,caption`), and optional train/dev/test image lists (`*.txt`) | the lists, or seeded |
| `image-folder` | one sub-folder of images per class, or `train/`, `val/`, `test/` each holding those; images upright as their EXIF tag says | by folder, or seeded |
| `tfds` | PATH is a TFDS dataset name; `--rename text=sentence,label=label` maps the task's feature names to the dataset's; translation: `--source`/`--target` name the languages (default: the dataset's supervised keys) | `validation`, or the last 10 % of `train` |

Splits are found by whole name parts (`split_of`: `eng.testa`, `my-train.csv`,
`test_2016.de`; never `latest.csv`), and the source record says which file went where.
Where a dataset has no validation split, a seeded 90/10 split of the training data is made
and recorded (`seeded_split`). The classification formats (text-per-class, csv, jsonl,
text-folder, trec, fasttext) draw it per class by default (`stratify=True`: 10 % of each
class, at least one, so every class is in both splits; a class of one example is refused);
`stratify=False` draws 10 % of all examples, the split of the zoo before it, which models
trained then are read with. Their labels are stripped and named in natural order ("2"
before "10"); the stored features are `_labels`' contract.

A row that cannot be an example (a missing or non-text field, an empty label, a malformed
line) raises `BadRowError`, naming its file and line; csv, jsonl, fasttext and trec take
`skip_bad_rows=True` (training's `--skip-bad-rows`) to skip such rows instead, counted in the
source record (`skipped_rows`) through one collector, `_files.BadRows`.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from zoo.constants import FORMATS

# each format module registers its reader in READERS when imported
from zoo.data.formats import (  # noqa: F401
    captions,
    conll,
    csv_text,
    fasttext,
    image_folder,
    jsonl,
    parallel,
    text_folder,
    text_per_class,
    tfds_dataset,
    trec,
)
from zoo.data.formats._dataset import (
    READERS,
    UNKNOWN_LICENCE,
    VALIDATION_FRACTION,
    split_summary,
)
from zoo.data.formats._files import (
    SPLIT_WORDS,
    VERSION,
    parse_records,
    read_text,
    split_lines,
    split_of,
)
from zoo.data.formats._labels import natural_order
from zoo.data.formats.conll import TAG_SCHEMES, convert_tags, tag_scheme
from zoo.data.formats.image_folder import IMAGE_SUFFIXES
from zoo.data.spec import DatasetSpec
from zoo.errors import BadInputError, UnknownNameError

if set(READERS) != set(FORMATS):  # a format without a module, or a module without a name
    raise ImportError(
        f"zoo.constants.FORMATS and the format modules differ: {set(READERS) ^ set(FORMATS)}"
    )
for _name in FORMATS:  # in FORMATS' order, which `zoo --help` shows
    READERS[_name] = READERS.pop(_name)

__all__ = [
    "IMAGE_SUFFIXES",
    "READERS",
    "SPLIT_WORDS",
    "TAG_SCHEMES",
    "UNKNOWN_LICENCE",
    "VALIDATION_FRACTION",
    "VERSION",
    "convert_tags",
    "natural_order",
    "parse_records",
    "prepare",
    "read_text",
    "split_lines",
    "split_of",
    "split_summary",
    "tag_scheme",
]


def prepare(path: str | Path, format: str, **options: Any) -> DatasetSpec:
    """Check the files at `path`, store them as a TFDS dataset (once) and describe it.

    A second call on the same content and options finds the stored dataset by its checksum
    and writes nothing. Any number of processes may prepare the same data at once: a file
    lock lets one build it while the others wait, then read it.

    Args:
        path: the data's file or folder (`~` is expanded, a relative path made absolute), or,
            for `tfds`, a TFDS name.
        format: one of `zoo.constants.FORMATS`: `conll`, `text-per-class`, `csv`, `jsonl`,
            `text-folder`, `trec`, `fasttext`, `parallel`, `captions`, `image-folder` or
            `tfds`.
        **options: keyword options of the format's reader (`columns`, `encoding`, `source`,
            `target`, `image_size`, `rename`, `label_delimiter`, `labels`, `label_prefix`,
            `seed`, `stratify`, `skip_bad_rows`, `licence`). None values are dropped, so unset
            command-line flags take the reader's defaults.

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
        # absolute: the card records it, and its command must run from any folder
        path = Path(path).expanduser().resolve()
        if not path.exists():
            raise BadInputError(f"{path} does not exist.")
    given = {k: v for k, v in options.items() if v is not None}
    accepted = inspect.signature(reader).parameters
    unknown = sorted(k for k in given if k not in accepted)
    if unknown:
        raise BadInputError(f"option(s) {', '.join(unknown)} do not apply to format {format!r}.")
    return reader(path, **given)
