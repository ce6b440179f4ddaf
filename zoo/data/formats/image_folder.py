"""Folders of images per class (`--format image-folder`), as Keras's
`image_dataset_from_directory` reads them: `<class>/*.png`, or `train/<class>/*.jpg` and so on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from zoo.data.formats import _dataset, _files
from zoo.data.formats._dataset import UNKNOWN_LICENCE, reader
from zoo.data.images import apply_exif_orientation, fit_to_shape
from zoo.data.spec import DatasetSpec
from zoo.errors import BadInputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _square(image: tf.Tensor | np.ndarray, size: int) -> np.ndarray:
    """An RGB image at size x size, resized exactly as `predict` resizes its inputs."""
    return fit_to_shape(tf.convert_to_tensor(image, tf.uint8), (size, size, 3)).numpy()


def read_image(file: Path, size: int) -> np.ndarray:
    """An RGB image, upright as its EXIF tag says, resized to size x size, or an error that
    names the file."""
    try:
        data = file.read_bytes()
        image = tf.io.decode_image(data, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, OSError) as err:
        raise BadInputError(f"{file}: not a readable image (PNG or JPEG expected).") from err
    return _square(apply_exif_orientation(image, data), size)


def _class_images(folder: Path) -> tuple[list[tuple[Path, str]], list[Path]]:
    """(image, class) pairs under a folder of class folders (`_files.class_files`); a file
    of another format than PNG or JPEG is refused, naming it."""
    examples, unused = _files.class_files(folder)
    for file, _ in examples:
        if file.suffix.lower() not in IMAGE_SUFFIXES:
            raise BadInputError(
                f"{file}: unknown image format {file.suffix!r}; convert it to PNG or JPEG, or remove it."
            )
    return examples, unused


@reader("image-folder")
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
    examples, split_files, unused = _files.class_folders(path, _class_images)
    seeded = None
    if examples.get("train") and "validation" not in examples:
        examples.update(_dataset.seeded_split(examples.pop("train"), seed))
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
        # every image is decoded (and a bad one named) here, before anything is written
        return [
            {"image": read_image(file, image_size), "label": labels.index(label)}
            for file, label in split_examples
        ]

    options = {"image_size": image_size, "seed": seed}
    files = sorted(f for split in examples.values() for f, _ in split)
    features = tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=(image_size, image_size, 3)),
            "label": tfds.features.ClassLabel(names=labels),
        }
    )
    return _dataset.stored(
        "zoo_image_folder",
        "image-folder",
        path,
        features=features,
        splits={s: encoded(e) for s, e in examples.items()},
        files=split_files,
        options=options,
        checksums=_files.checksum(files, options, root=path),
        seeded=seeded,
        unused=unused,
        licence=licence,
        description="Image folders, prepared by the zoo.",
    )
