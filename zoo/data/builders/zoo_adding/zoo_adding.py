"""`zoo_adding`: the adding problem, a long-range memory benchmark for recurrent networks.

Each example is a sequence of T steps, each a pair (value, marker): values are drawn
uniformly from [0, 1); exactly two markers are 1, one in the first half of the sequence
and one in the second. The target is the sum of the two marked values. A model must keep
the first marked value in its hidden state for T/2 to T steps while ignoring everything
else, which is what SimpleRNNs fail at as T grows and what LSTM gates were designed for
(Hochreiter & Schmidhuber 1997, experiment 4; the first-half/second-half markers follow
Le, Jaitly & Hinton 2015).

One builder config per sequence length: `zoo_adding/length_10` ... `zoo_adding/length_500`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from zoo.data.builders._generated import Example, GeneratedBuilder, slice_pool

LENGTHS = (10, 25, 50, 100, 200, 500)
SIZES = {"train": 10_000, "validation": 1_000, "test": 1_000}
#: a prediction within this of the target counts as correct (Hochreiter & Schmidhuber 1997)
TOLERANCE = 0.04

_CITATION = """
@article{hochreiter1997lstm,
  author = {Hochreiter, Sepp and Schmidhuber, J{\\"u}rgen},
  title = {Long Short-Term Memory},
  journal = {Neural Computation},
  volume = {9}, number = {8}, pages = {1735--1780}, year = {1997},
}
"""


@dataclasses.dataclass
class AddingConfig(tfds.core.BuilderConfig):
    """A `zoo_adding` config: the sequence length.

    Attributes:
        length: time steps per sequence, T.
    """

    length: int = 100


def generate(length: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`count` sequences (count, length, 2) of (value, marker) and their targets (count,).

    Args:
        length: time steps per sequence, T (at least 2).
        count: sequences to draw.
        rng: the random generator, advanced by the draws.

    Returns:
        `(sequences, targets)`: float32 (count, length, 2), channel 0 the values in [0, 1)
        and channel 1 the markers (exactly two 1s: one in steps [0, T // 2), one in
        [T // 2, T)); float32 (count,) targets, the sum of the two marked values, in [0, 2).
    """
    values = rng.random((count, length), dtype=np.float32)
    half = length // 2
    first = rng.integers(0, half, size=count)
    second = rng.integers(half, length, size=count)
    markers = np.zeros((count, length), dtype=np.float32)
    rows = np.arange(count)
    markers[rows, first] = markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    return np.stack([values, markers], axis=-1), targets.astype(np.float32)


class ZooAdding(GeneratedBuilder):
    """The adding problem at one sequence length per config; deterministic (seeded by length)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = [
        AddingConfig(name=f"length_{t}", description=f"sequences of {t} steps", length=t)
        for t in LENGTHS
    ]

    def _info(self) -> tfds.core.DatasetInfo:
        length = self.builder_config.length
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict(
                {
                    "sequence": tfds.features.Tensor(shape=(length, 2), dtype=np.float32),
                    "target": tfds.features.Scalar(dtype=np.float32),
                }
            ),
            supervised_keys=("sequence", "target"),
            homepage="https://doi.org/10.1162/neco.1997.9.8.1735",
            citation=_CITATION,
        )

    def generate_splits(self) -> dict[str, list[Example]]:
        """The adding problem at this config's length, seeded by the length.

        Returns:
            `train` (10,000), `validation` (1,000) and `test` (1,000) examples keyed by their
            index: `sequence` float32 (length, 2) and `target` float32 scalar.
        """
        length = self.builder_config.length
        rng = np.random.default_rng(length)
        sequences, targets = generate(length, sum(SIZES.values()), rng)
        return slice_pool(
            list(zip(sequences, targets, strict=True)),
            SIZES,
            lambda i, pair: (i, {"sequence": pair[0], "target": pair[1]}),
        )
