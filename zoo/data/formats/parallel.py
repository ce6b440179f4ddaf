"""Line-aligned parallel text (`--format parallel`): `<split>.<lang>` file pairs, or
`<split>.tsv` files of `source<TAB>target` rows, stored as a TFDS `Translation` dataset."""

from __future__ import annotations

import collections
import re
from pathlib import Path

import tensorflow_datasets as tfds

from zoo.data.formats import _dataset, _files
from zoo.data.formats._dataset import UNKNOWN_LICENCE, reader
from zoo.data.spec import DatasetSpec
from zoo.errors import BadInputError


@reader("parallel")
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
    for file in _files.entries(path) if path.is_dir() else []:
        match = pattern.match(file.name)
        if match and _files.split_of(match["prefix"]):
            groups[match["prefix"]][match["lang"]] = file
        elif file.is_file():
            unused.append(file)
    pairs: dict[str, list[dict[str, Path]]] = collections.defaultdict(list)
    for prefix, files in sorted(groups.items()):
        pairs[_files.split_of(prefix)].append(files)
    if "train" not in pairs:
        raise BadInputError(
            f"{path}: no training data: train.{source}[.gz] + train.{target}[.gz], or train.tsv."
        )
    splits: dict[str, list[dict[str, str]]] = {}
    for split, group in pairs.items():
        for files in group:
            if "tsv" in files:
                _, rows = _files.table(files["tsv"], encoding, width=2)
                src, tgt = [row[0] for _, row in rows], [row[1] for _, row in rows]
            elif set(files) != {source, target}:
                raise BadInputError(
                    f"{path}: {next(iter(files.values())).name} lacks its "
                    f"{({source, target} - set(files)).pop()} file."
                )
            else:
                src, tgt = (
                    _files.lines(files[source], encoding),
                    _files.lines(files[target], encoding),
                )
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
        splits.update(_dataset.seeded_split(splits.pop("train"), seed))
        seeded = seed
    by_split = {
        split: [f for files in group for f in files.values()] for split, group in pairs.items()
    }
    files = [f for group in by_split.values() for f in group]
    options = {"source": source, "target": target, "encoding": encoding, "seed": seed}
    return _dataset.stored(
        "zoo_parallel_text",
        "parallel",
        path,
        features=tfds.features.Translation(languages=sorted({source, target})),
        splits=splits,
        files=by_split,
        options=options,
        checksums=_files.checksum(files, options),
        seeded=seeded,
        unused=unused,
        licence=licence,
        description="Parallel text prepared by the zoo.",
        fields={"source": source, "target": target},
    )
