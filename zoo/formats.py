"""Files in standard formats turned into TFDS datasets, the way users bring their own data.

Each format reads a folder (or file), checks it, and stores it once as a TFDS dataset in
the zoo's data folder, named by format and content checksum, so that training reads it
through TFDS like any other dataset. CoNLL files go through TFDS's own
`ConllDatasetBuilder`; the other formats through `tfds.dataset_builders.store_as_tfds_dataset`.

| format | what PATH holds | splits |
|---|---|---|
| `conll` | CoNLL column files, one token a line, blank line between sentences | by file name: *train*, *testa*/*dev*/*val* -> validation, *testb*/*test* -> test |
| `text-per-class` | one text file per class, one example a line; the label is the extension (`rt-polarity.pos`) or the file stem (`pos.txt`) | seeded split |
| `parallel` | line-aligned `<split>.<lang>[.gz]` files | by file name: train, val/valid/dev -> validation, test* -> test |
| `captions` | `images/` plus a Flickr8k `*.token.txt` (`<image>#<n>\\t<caption>`) and `*train*`/`*dev*`/`*test*` image lists | the lists |

Where a dataset has no validation split, one is made with a recorded seed.
"""
from __future__ import annotations

import collections
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

from zoo import data
from zoo.errors import BadInputError
from zoo.task import DatasetSpec

VERSION = "1.0.0"
UNKNOWN_LICENCE = "not stated: give the data's terms with --data-licence"
VALIDATION_FRACTION = 0.1
_SPLIT_WORDS = (("train", "train"), ("testa", "validation"), ("testb", "test"), ("dev", "validation"), ("val", "validation"), ("test", "test"))


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
        raise BadInputError(f"{path}, line {line}: not valid {encoding} text; pass the file's encoding, e.g. --encoding latin-1.") from err
    except OSError as err:
        raise BadInputError(f"cannot read {path}: {err}") from err


def _seeded_split(examples: list[Any], seed: int) -> dict[str, list[Any]]:
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    cut = max(1, int(len(shuffled) * VALIDATION_FRACTION))
    return {"train": shuffled[cut:], "validation": shuffled[:cut]}


def _spec(
    tfds_name: str, splits: Iterable[str], source: dict[str, Any], licence: str, fields: dict[str, str] | None = None
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


def _source(path: Path, fmt: str, files: list[Path], checksum: str, sizes: dict[str, int], options: dict[str, Any]) -> dict[str, Any]:
    return {
        "path": str(path),
        "format": fmt,
        "validation_fraction_if_split_here": VALIDATION_FRACTION,
        "files": sorted(f.name for f in files),
        "sha256": checksum,
        "examples": sizes,
        "options": options,
    }


def _store(name: str, checksum: str, features: tfds.features.FeatureConnector, splits: dict[str, list[dict[str, Any]]], description: str) -> None:
    """Store examples as a TFDS dataset once; a second call with the same content is free."""
    builder_dir = Path(data.data_dir()) / name / checksum[:16] / VERSION
    if (builder_dir / "dataset_info.json").exists():
        return
    tfds.dataset_builders.store_as_tfds_dataset(
        name=name,
        version=VERSION,
        config=checksum[:16],
        features=features,
        split_datasets={split: [(str(i), ex) for i, ex in enumerate(examples)] for split, examples in splits.items()},
        data_dir=data.data_dir(),
        description=description,
    )


# --- CoNLL ---------------------------------------------------------------------------------


def _conll_sentences(path: Path, columns: list[str], encoding: str) -> Iterator[dict[str, list[str]]]:
    """Check and read one CoNLL file (used to find the tag set and to count)."""
    sentence: dict[str, list[str]] = {c: [] for c in columns}
    for number, line in enumerate(_lines(path, encoding), 1):
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
        for column, value in zip(columns, values):
            sentence[column].append(value)
    if sentence[columns[0]]:
        yield sentence


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


def conll(path: Path, *, columns: str = "tokens pos chunks ner", encoding: str = "utf-8", seed: int = 0, licence: str = UNKNOWN_LICENCE) -> DatasetSpec:
    names = columns.split()
    if encoding.replace("_", "-").lower() not in ("utf-8", "utf8", "ascii"):
        raise BadInputError("TFDS's CoNLL builder reads UTF-8: convert the files first, e.g. iconv -f latin1 -t utf-8.")
    if "tokens" not in names or "ner" not in names:
        raise BadInputError(f"--columns must name a 'tokens' and a 'ner' column, got {columns!r}.")
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    by_split = {split: f for f in files if f.is_file() and (split := _split_of(f.name))}
    if "train" not in by_split:
        raise BadInputError(f"{path}: no training file (a name containing 'train') among {[f.name for f in files]}.")
    if "validation" not in by_split:
        raise BadInputError(f"{path}: no validation file (a name containing 'testa', 'dev' or 'val').")
    tags: collections.Counter[str] = collections.Counter()
    sizes = {}
    for split, file in by_split.items():
        sentences = list(_conll_sentences(file, names, encoding))
        if not sentences:
            raise BadInputError(f"{file}: no sentences found (is the file empty?).")
        sizes[split] = len(sentences)
        tags.update(t for s in sentences for t in s["ner"])
    options = {"columns": columns, "encoding": encoding}
    checksum = _checksum(by_split.values(), options)
    tag_names = ["O", *sorted(t for t in tags if t != "O")]
    features = collections.OrderedDict(
        (c, tfds.features.Sequence(tfds.features.ClassLabel(names=tag_names)) if c == "ner" else tfds.features.Sequence(tfds.features.Text()))
        for c in names
    )
    config = tfds.dataset_builders.ConllBuilderConfig(name=checksum[:16], separator=" ", ordered_features=features)
    _ConllFiles(files=by_split, config=config, data_dir=data.data_dir()).download_and_prepare()
    return _spec(f"zoo_conll_files/{checksum[:16]}", by_split, _source(path, "conll", list(by_split.values()), checksum, sizes, options), licence)


# --- one text file per class -------------------------------------------------------------------


def text_per_class(path: Path, *, encoding: str = "utf-8", seed: int = 0, licence: str = UNKNOWN_LICENCE) -> DatasetSpec:
    files = sorted(f for f in path.iterdir() if f.is_file() and not f.name.startswith(".")) if path.is_dir() else []
    if len(files) < 2:
        raise BadInputError(f"{path}: expected a folder with one text file per class (at least two).")
    stems = {f.stem for f in files}
    label_of: Callable[[Path], str] = (lambda f: f.suffix.lstrip(".")) if len(stems) == 1 else (lambda f: f.stem)
    labels = sorted(label_of(f) for f in files)
    examples = []
    for file in files:
        lines = [line.strip() for line in _lines(file, encoding)]
        if not any(lines):
            raise BadInputError(f"{file}: empty file; each class file needs one example a line.")
        examples += [{"text": line, "label": labels.index(label_of(file))} for line in lines if line]
    splits = _seeded_split(examples, seed)
    options = {"encoding": encoding, "seed": seed}
    checksum = _checksum(files, options)
    features = tfds.features.FeaturesDict({"text": tfds.features.Text(), "label": tfds.features.ClassLabel(names=labels)})
    _store("zoo_text_per_class", checksum, features, splits, "One text file per class, prepared by the zoo.")
    sizes = {split: len(v) for split, v in splits.items()}
    return _spec(f"zoo_text_per_class/{checksum[:16]}", splits, _source(path, "text-per-class", files, checksum, sizes, options), licence)


# --- parallel text -------------------------------------------------------------------------------


def parallel(path: Path, *, source: str, target: str, encoding: str = "utf-8", seed: int = 0, licence: str = UNKNOWN_LICENCE) -> DatasetSpec:
    pattern = re.compile(rf"^(?P<split>[^.]+)\.(?P<lang>{re.escape(source)}|{re.escape(target)})(\.txt)?(\.gz)?$")
    pairs: dict[str, dict[str, Path]] = collections.defaultdict(dict)
    for file in sorted(path.iterdir()) if path.is_dir() else []:
        match = pattern.match(file.name)
        if match and (split := _split_of(match["split"])):
            pairs[split][match["lang"]] = file
    if "train" not in pairs:
        raise BadInputError(f"{path}: no training pair train.{source}[.gz] + train.{target}[.gz].")
    splits: dict[str, list[dict[str, str]]] = {}
    for split, files in pairs.items():
        if set(files) != {source, target}:
            raise BadInputError(f"{path}: split {split} lacks its {({source, target} - set(files)).pop()} file.")
        src, tgt = _lines(files[source], encoding), _lines(files[target], encoding)
        if len(src) != len(tgt):
            raise BadInputError(f"{files[source]} has {len(src)} lines but {files[target]} has {len(tgt)}: the files must be line-aligned.")
        splits[split] = [{source: s, target: t} for s, t in zip(src, tgt) if s.strip() and t.strip()]
    if "validation" not in splits:
        splits.update(_seeded_split(splits.pop("train"), seed))
    files = [f for pair in pairs.values() for f in pair.values()]
    options = {"source": source, "target": target, "encoding": encoding, "seed": seed}
    checksum = _checksum(files, options)
    _store("zoo_parallel_text", checksum, tfds.features.Translation(languages=sorted({source, target})), splits, "Parallel text prepared by the zoo.")
    sizes = {split: len(v) for split, v in splits.items()}
    return _spec(f"zoo_parallel_text/{checksum[:16]}", splits, _source(path, "parallel", files, checksum, sizes, options), licence, {"source": source, "target": target})


# --- images with captions ------------------------------------------------------------------------


def captions(path: Path, *, image_size: int = 128, encoding: str = "utf-8", seed: int = 0, licence: str = UNKNOWN_LICENCE) -> DatasetSpec:
    tokens = sorted(path.glob("*token*.txt"))
    if not tokens or not (path / "images").is_dir():
        raise BadInputError(f"{path}: expected an images/ folder and a Flickr8k-style *.token.txt captions file.")
    by_image: dict[str, list[str]] = collections.defaultdict(list)
    for number, line in enumerate(_lines(tokens[0], encoding), 1):
        if not line.strip():
            continue
        key, sep, caption = line.partition("\t")
        if not sep or "#" not in key:
            raise BadInputError(f"{tokens[0]}, line {number}: expected '<image>#<n><TAB><caption>'.")
        by_image[key.split("#")[0]].append(caption.strip())
    lists = {split: f for f in sorted(path.glob("*.txt")) if f not in tokens and (split := _split_of(f.name))}
    if "train" not in lists:
        raise BadInputError(f"{path}: no training image list (a .txt file whose name contains 'train').")
    splits = {}
    for split, file in lists.items():
        names = [n.strip() for n in _lines(file, encoding) if n.strip()]
        missing = [n for n in names if n not in by_image or not (path / "images" / n).is_file()]
        if missing:
            raise BadInputError(f"{file}: {len(missing)} images without a file or captions, e.g. {missing[0]}.")
        splits[split] = names
    if "validation" not in splits:
        splits.update(_seeded_split(splits.pop("train"), seed))
    options = {"image_size": image_size, "encoding": encoding, "seed": seed}
    checksum = _checksum([tokens[0], *lists.values()], {**options, "images": sorted(n for s in splits.values() for n in s)})

    def examples(names: list[str]) -> Iterator[dict[str, Any]]:
        for i, name in enumerate(names):
            image = tf.io.decode_image((path / "images" / name).read_bytes(), channels=3, expand_animations=False)
            image = tf.cast(tf.image.resize(image, (image_size, image_size), antialias=True), tf.uint8).numpy()
            yield {"image": image, "image/id": i, "captions": {"text": by_image[name]}}

    features = tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=(image_size, image_size, 3)),
            "image/id": np.int64,
            "captions": tfds.features.Sequence({"text": tfds.features.Text()}),
        }
    )
    _store("zoo_captions", checksum, features, {s: list(examples(n)) for s, n in splits.items()}, "Images with captions, prepared by the zoo.")
    sizes = {split: len(v) for split, v in splits.items()}
    return _spec(f"zoo_captions/{checksum[:16]}", splits, _source(path, "captions", [tokens[0], *lists.values()], checksum, sizes, options), licence)


FORMATS: dict[str, Callable[..., DatasetSpec]] = {
    "conll": conll,
    "text-per-class": text_per_class,
    "parallel": parallel,
    "captions": captions,
}


def prepare(path: str | Path, format: str, **options: Any) -> DatasetSpec:
    """Check the files at `path`, store them as a TFDS dataset (once) and describe it."""
    from zoo.errors import UnknownNameError

    if format not in FORMATS:
        raise UnknownNameError("data format", format, FORMATS)
    path = Path(path).expanduser()
    if not path.exists():
        raise BadInputError(f"{path} does not exist.")
    reader = FORMATS[format]
    given = {k: v for k, v in options.items() if v is not None}
    accepted = inspect.signature(reader).parameters
    unknown = sorted(k for k in given if k not in accepted)
    if unknown:
        raise BadInputError(f"option(s) {', '.join(unknown)} do not apply to format {format!r}.")
    return reader(path, **given)
