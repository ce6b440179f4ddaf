"""CoNLL column files (`--format conll`): one token a line with its tags in columns, a blank
line between sentences, stored through TFDS's own `ConllDatasetBuilder`."""

from __future__ import annotations

import collections
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import tensorflow_datasets as tfds
from seqeval.metrics.sequence_labeling import get_entities

from zoo.data import loading
from zoo.data.formats import _dataset, _files
from zoo.data.formats._dataset import UNKNOWN_LICENCE, reader
from zoo.data.spec import DatasetSpec
from zoo.errors import BadInputError


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


#: the tag schemes that `tag_scheme` tells apart and `convert_tags` writes
TAG_SCHEMES = ("IOB1", "IOB2", "BIOES")


def tag_scheme(sentences: Iterable[list[str]], path: Path) -> str:
    """IOB1, IOB2 or BIOES, from the tag sequences. Tags are kept as they are and the
    scheme is recorded: a tagger learns, predicts and is scored in its data's scheme, and
    data in another scheme is rewritten in the model's (`convert_tags`).

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


def convert_tags(tags: Sequence[str], scheme: str) -> list[str]:
    """The entities of one tag sequence, written in `scheme`.

    Entities are read by conlleval's rules, which read all three schemes alike (seqeval's
    `get_entities`): an entity opens at `B-` or `S-`, and at `I-` or `E-` after `O`, after a
    tag of another type or after an entity closed by `E-` or `S-`. They are written as
    `scheme` writes them: IOB2 opens every entity with `B-`; IOB1 writes `I-` throughout
    and opens with `B-` only an entity that directly follows one of the same type
    (CoNLL-2003); BIOES writes a one-token entity `S-` and a longer one `B-`, `I-`..., `E-`.
    A well-formed sequence converted to its own scheme comes back unchanged, so conversions
    between the schemes round-trip.

    Args:
        tags: one sentence's tags, each `O` or a prefix, `-` and a type.
        scheme: the scheme to write: `IOB1`, `IOB2` or `BIOES`.

    Returns:
        A new list of the same length.

    Raises:
        ValueError: a scheme other than those three.
    """
    if scheme not in TAG_SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}: one of {', '.join(TAG_SCHEMES)}.")
    written = ["O"] * len(tags)
    previous: tuple[str, int] | None = None  # the last entity's type and end
    for kind, start, end in get_entities(list(tags)):
        written[start : end + 1] = [f"I-{kind}"] * (end - start + 1)
        if scheme == "BIOES" and start == end:
            written[start] = f"S-{kind}"
        elif scheme == "BIOES":
            written[start], written[end] = f"B-{kind}", f"E-{kind}"
        elif scheme == "IOB2" or previous == (kind, start - 1):
            written[start] = f"B-{kind}"
        previous = (kind, end)
    return written


class _ConllFiles(tfds.dataset_builders.ConllDatasetBuilder, skip_registration=True):
    """TFDS's CoNLL builder over the user's sentences, with the tag set found in them.

    The zoo reads the files itself (`_conll_sentences`): columns split at any run of spaces
    and tabs, so trailing spaces and aligned columns that editors write are read; TFDS's own
    reader splits at exactly one separator and fails on them."""

    name = "zoo_conll_files"
    VERSION = tfds.core.Version(_files.VERSION)

    def __init__(self, *, sentences: dict[str, list[dict[str, list[str]]]], **kwargs: Any):
        self._sentences = sentences
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        return self.create_dataset_info(description="CoNLL-format files prepared by the zoo.")

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        return {split: self._generate_examples(split) for split in self._sentences}

    def _generate_examples(self, split: str):
        yield from enumerate(self._sentences[split])


@reader("conll")
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
    files = [f for f in _files.entries(path) if f.is_file()] if path.is_dir() else [path]
    by_split, unused = _files.assign(files) if path.is_dir() else ({"train": files}, [])
    if "train" not in by_split:
        raise BadInputError(
            f"{path}: no training file (a name with the part 'train', e.g. eng.train or "
            f"train.txt) among {[f.name for f in files]}."
        )
    sentences: dict[str, list[dict[str, list[str]]]] = {}
    for split, group in by_split.items():
        for file in group:
            found = list(_conll_sentences(file, _files.lines(file, encoding), names))
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
        sentences.update(_dataset.seeded_split(sentences.pop("train"), seed))
        seeded = seed
    sequences = [s["ner"] for group in sentences.values() for s in group]
    scheme = tag_scheme(sequences, path)
    options = {"columns": columns, "encoding": encoding, "seed": seed}
    used = [f for group in by_split.values() for f in group]
    checksum, content = _files.checksum(used, options)
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
    with _dataset.building("zoo_conll_files", checksum) as needed:
        if needed:
            builder = _ConllFiles(sentences=sentences, config=config, data_dir=loading.data_dir())
            with loading.preparing(downloads=False):
                builder.download_and_prepare()
    sizes = {split: len(group) for split, group in sentences.items()}
    source = _dataset.source_record(
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
    return _dataset.spec(f"zoo_conll_files/{checksum[:16]}", sentences, source, licence)
