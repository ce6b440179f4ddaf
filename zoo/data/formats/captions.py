"""Images with captions (`--format captions`): `images/` beside a Flickr8k token file or a
`captions.csv`, and optional image lists that fix the splits; stored shaped like
`coco_captions`."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from zoo.data.formats import _dataset, _files
from zoo.data.formats._dataset import UNKNOWN_LICENCE, reader
from zoo.data.formats.image_folder import read_image
from zoo.data.spec import DatasetSpec
from zoo.errors import BadInputError


def _caption_table(path: Path, encoding: str) -> tuple[Path, dict[str, list[str]]]:
    """Captions by image file name, from a Flickr8k token file or a CSV with image and caption columns."""
    by_image: dict[str, list[str]] = collections.defaultdict(list)
    visible = [f for f in _files.entries(path) if f.is_file()]
    tokens = [f for f in visible if f.suffix == ".txt" and "token" in f.name.lower()]
    if tokens:
        for number, line in enumerate(_files.lines(tokens[0], encoding), 1):
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
    header, rows = _files.table(tables[0], encoding)
    if header[:2] != ["image", "caption"]:
        raise BadInputError(
            f"{tables[0]}, line 1: the header must start with 'image,caption', got {','.join(header)!r}."
        )
    for _, row in rows:
        by_image[row[0].strip()].append(row[1].strip())
    return tables[0], by_image


@reader("captions")
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
    listed = [f for f in _files.entries(path) if f.is_file() and f.suffix == ".txt" and f != table]
    lists, unused = _files.assign(listed)
    splits: dict[str, list[str]] = {}
    for split, group in lists.items():
        for file in group:
            splits.setdefault(split, []).extend(
                n.strip() for n in _files.lines(file, encoding) if n.strip()
            )
    seeded = None
    if "train" not in splits:  # every captioned image no list names
        named = {n for names in splits.values() for n in names}
        splits["train"] = [n for n in sorted(by_image) if n not in named]
    if "validation" not in splits:
        splits.update(_dataset.seeded_split(splits.pop("train"), seed))
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

    def examples(names: list[str]) -> Iterator[dict[str, Any]]:
        """The examples of one split.

        Args:
            names: image file names under `images/`.

        Returns:
            A generator of `{"image", "image/id", "captions": {"text": [...]}}` dicts, `image/id`
            the position in `names`.
        """
        for i, name in enumerate(names):
            image = read_image(path / "images" / name, image_size)
            yield {"image": image, "image/id": i, "captions": {"text": by_image[name]}}

    features = tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=(image_size, image_size, 3)),
            "image/id": np.int64,
            "captions": tfds.features.Sequence({"text": tfds.features.Text()}),
        }
    )
    return _dataset.stored(
        "zoo_captions",
        "captions",
        path,
        features=features,
        splits={s: list(examples(n)) for s, n in splits.items()},
        files={"captions": [table], **lists},
        options=options,
        checksums=_files.checksum([table, *list_files, *images], options),
        seeded=seeded,
        unused=unused,
        licence=licence,
        description="Images with captions, prepared by the zoo.",
    )
