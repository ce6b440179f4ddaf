"""`zoo_digits`: an offline stand-in for `mnist` (one-to-one classification).

scikit-learn ships the UCI optdigits test set (1,797 real 8x8 handwritten
digits), so this needs no download and still is real data. Features mirror
`mnist` ("image" uint8 HxWx1, "label" 0..9) at 8x8 instead of 28x28.
"""

from typing import Any

import numpy as np
import tensorflow_datasets as tfds
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from zoo.data.builders._generated import GeneratedBuilder

_DESCRIPTION = """
Real 8x8 grey-scale handwritten digits (the UCI optdigits test set as shipped
with scikit-learn), rescaled from 0..16 to 0..255. Duplicate images are
dropped, then a stratified 80/20 train/test split is drawn with a fixed seed.
Mirrors the `mnist` features at a smaller size so image models train in
seconds on a CPU.
"""

_CITATION = """
@misc{alpaydin1998optdigits,
  author = {Alpaydin, E. and Kaynak, C.},
  title = {Optical Recognition of Handwritten Digits},
  year = {1998},
  howpublished = {UCI Machine Learning Repository},
  doi = {10.24432/C50P49},
}
"""

Example = dict[str, Any]


def generate_splits() -> dict[str, list[tuple[int, Example]]]:
    """Returns {split: [(key, example), ...]}; the key is the sklearn row index.

    Returns:
        `train` and `test` (a stratified 80/20 split, seed 0, of the unique images), each
        sorted by key: `image` uint8 (8, 8, 1) in 0..255 and `label` 0..9.
    """
    digits = load_digits()
    images = np.round(digits.images * 255.0 / 16.0).astype(np.uint8)
    labels = digits.target.astype(np.int64)

    seen: set[bytes] = set()
    keep: list[int] = []
    for i, image in enumerate(images):
        # An image repeated in train and test would count as a test success
        # for memorisation (and trips TFDS's overlapping-splits check).
        if image.tobytes() not in seen:
            seen.add(image.tobytes())
            keep.append(i)

    train_idx, test_idx = train_test_split(
        np.asarray(keep), test_size=0.2, random_state=0, stratify=labels[keep]
    )
    return {
        split: [
            (int(i), {"image": images[i][..., None], "label": int(labels[i])})
            for i in sorted(idx.tolist())
        ]
        for split, idx in (("train", train_idx), ("test", test_idx))
    }


class ZooDigits(GeneratedBuilder):
    """8x8 real handwritten digits: mnist-shaped data without a download."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=_DESCRIPTION,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(8, 8, 1)),
                    "label": tfds.features.ClassLabel(num_classes=10),
                }
            ),
            supervised_keys=("image", "label"),
            homepage=None,
            citation=_CITATION,
        )

    generate_splits = staticmethod(generate_splits)
