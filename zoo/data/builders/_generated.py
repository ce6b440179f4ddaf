"""What the zoo's embedded builders share: the whole dataset is computed in memory from a
fixed seed (it is small), then split by slicing one pool of unique examples, so that no
example can appear in two splits."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import tensorflow_datasets as tfds

T = TypeVar("T")
Example = tuple[Any, dict[str, Any]]


def slice_pool(
    pool: Sequence[T], sizes: dict[str, int], to_example: Callable[[int, T], Example]
) -> dict[str, list[Example]]:
    """Consecutive slices of `pool`, one per split; `to_example(index, item)` gives (key, features).

    Args:
        pool: unique items, already in random order.
        sizes: split name -> item count, taken in this order from the pool's start.
        to_example: (index in the pool, item) -> (TFDS key, features dict).

    Returns:
        Split name -> its examples as (key, features) pairs; a split is shorter when the
        pool runs out.
    """
    splits, start = {}, 0
    for split, size in sizes.items():
        splits[split] = [
            to_example(i, item) for i, item in enumerate(pool[start : start + size], start)
        ]
        start += size
    return splits


class GeneratedBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A builder whose examples come from `generate_splits()`, with no download."""

    @abc.abstractmethod
    def generate_splits(self) -> dict[str, list[Example]]:
        """All examples, by split, as (key, features) pairs.

        Returns:
            Split name -> its examples, each a (key, features) pair: keys unique within the
            dataset, features a dict matching the builder's `_info` features. It must give the
            same result on every call.
        """

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        del dl_manager  # generated locally
        return {
            split: self._generate_examples(examples)
            for split, examples in self.generate_splits().items()
        }

    def _generate_examples(self, examples: list[Example]) -> Iterator[Example]:
        yield from examples
