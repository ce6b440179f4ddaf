"""TREC question classification (`--format trec`), the published layout of Li & Roth's
data: one question a line after its label, `DESC:manner How did serfdom develop in and then
leave Russia ?`; the label is the coarse class (`DESC`, 6 classes) or the fine one
(`DESC:manner`, 50)."""

from __future__ import annotations

import re
from pathlib import Path

from zoo.data.formats import _files, _labels
from zoo.data.formats._dataset import UNKNOWN_LICENCE, reader
from zoo.data.spec import DatasetSpec
from zoo.errors import BadInputError, BadRowError

#: `COARSE:fine question`: the label is one token, the question the rest of the line
_LINE = re.compile(r"([^\s:]+):(\S+)\s+(\S.*)")


@reader("trec")
def trec(
    path: Path,
    *,
    labels: str = "coarse",
    encoding: str = "utf-8",
    seed: int = 0,
    stratify: bool = True,
    skip_bad_rows: bool = False,
    licence: str = UNKNOWN_LICENCE,
) -> DatasetSpec:
    """TREC question-classification files -> a TFDS dataset of `text` and `label`.

    Args:
        path: a TREC file (`train_5500.label`: the training data), or a folder of them whose
            names give their splits by whole name parts (`train_5500.label`, `test.label`).
            The official test file `TREC_10.label` says no split in its name: rename it (or
            copy it) to `test.label` beside the training file; files whose names say no
            split are not used (and reported). Questions are kept as published, stripped.
        labels: `coarse`: the class before the colon (`DESC`); `fine`: the whole label
            (`DESC:manner`), so that fine classes of different coarse ones stay apart.
        encoding: the files' text encoding.
        seed: seed of the validation split (10 %) made when no validation file is given.
        stratify: draw 10 % of each class for validation (`_labels.stratified_split`);
            False draws 10 % of all examples.
        skip_bad_rows: skip the lines that are not `COARSE:fine question`, and count them,
            rather than refuse the data (`_files.BadRows`; training's `--skip-bad-rows`).
        licence: the data's terms of use, for the model card.

    Returns:
        The spec of `zoo_trec/<checksum>`: `text` (the question) and `label` (`ClassLabel`,
        names in natural order); splits train, validation and, with a test file, test.

    Raises:
        BadRowError: (without `skip_bad_rows`) a line that is not `COARSE:fine question`,
            naming it.
        BadInputError: `labels` is neither `coarse` nor `fine`, no training file,
            (stratified) a class of one example, a file that cannot be read or decoded, or
            one none of whose lines can be read.
    """
    if labels not in ("coarse", "fine"):
        raise BadInputError(
            f"--labels for trec is 'coarse' (6 classes, e.g. DESC) or 'fine' (50, e.g. DESC:manner); got {labels!r}."
        )
    by_split, unused = _files.split_files(
        path,
        lambda f: not _files.NOTES.search(f.name),
        "a TREC file",
        "train_5500.label, test.label",
    )

    def parse(line: str, where: str) -> _labels.Row:
        match = _LINE.fullmatch(line.strip())
        if not match:
            raise BadRowError(
                where,
                "expected 'COARSE:fine question', e.g. 'DESC:manner How did serfdom develop ?'; "
                f"got {line.strip()[:60]!r}: fix or drop the line.",
            )
        coarse, fine, question = match.groups()
        label = coarse if labels == "coarse" else f"{coarse}:{fine}"
        return _labels.row(question.strip(), [label], where, multi_label=False)

    bad = _files.BadRows(skip_bad_rows)
    rows: dict[str, list[_labels.Row]] = {}
    for split, group in by_split.items():
        for file in group:
            for number, line in _files.data_lines(
                file, encoding, "one 'COARSE:fine question' a line"
            ):
                where = f"{file}, line {number}"
                if (found := bad.read(file, where, parse, line, where)) is not None:
                    rows.setdefault(split, []).append(found)
    return _labels.classification(
        "zoo_trec",
        "trec",
        path,
        rows,
        multi_label=False,
        files=by_split,
        unused=unused,
        options={"labels": labels, "encoding": encoding, "seed": seed, "stratify": stratify},
        licence=licence,
        bad=bad,
        description="TREC question classification, prepared by the zoo.",
    )
