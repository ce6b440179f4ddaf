"""The `tf.data` stage shared by every task: encoded examples in, batches for `fit` out.

`batch_pipeline` caches, shuffles with a recorded seed, buckets by length with right
padding (the padding side cuDNN needs) and prefetches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf


def batch_pipeline(
    ds: tf.data.Dataset,
    batch_size: int,
    *,
    training: bool,
    seed: int = 0,
    length_fn: Callable[..., tf.Tensor] | None = None,
    bucket_boundaries: Sequence[int] = (8, 16, 32, 64, 128),
    cache: bool = True,
    per_epoch: Callable[..., tuple[Any, ...]] | None = None,
) -> tf.data.Dataset:
    """Batch encoded `(inputs, targets)` examples the same way for every task.

    With `length_fn`, examples of similar length are batched together and padded on the
    right to the longest in their batch, which keeps the padding (and wasted recurrent
    steps) small and the masks cuDNN-compatible.

    Args:
        ds: unbatched encoded elements, `(inputs, targets)` or `(inputs, targets,
            sample_weights)`, any of them a tensor or a dict of tensors.
        batch_size: elements per batch (per bucket with `length_fn`).
        training: shuffle, in a buffer of 4096 elements reshuffled every epoch.
        seed: the shuffle seed.
        length_fn: the components of one element -> its length, an int32 scalar. None
            batches with `Dataset.batch`, so elements must all have one shape.
        bucket_boundaries: the length limits between buckets.
        cache: keep the encoded elements in memory after the first pass.
        per_epoch: `(element, seed) -> (inputs, targets[, sample_weights])`, applied after
            the cache and the shuffle, anew every epoch (a caption sampled per image, an
            augmented image): `seed` is an int64 tensor (2,), another for every element and
            every epoch, drawn from `seed`. None: the elements are trained as they are.

    Returns:
        Prefetched batches; the last one of each bucket may be smaller. With `length_fn`,
        every component is right-padded with 0 (or "") to the longest in its batch, so
        padded sample weights are 0.
    """
    if cache:
        ds = ds.cache()
    if training:
        ds = ds.shuffle(4096, seed=seed, reshuffle_each_iteration=True)
    if per_epoch is not None:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip(ds, seeds).map(per_epoch, num_parallel_calls=tf.data.AUTOTUNE)
    if length_fn is None:
        ds = ds.batch(batch_size)
    else:
        ds = ds.bucket_by_sequence_length(
            element_length_func=length_fn,
            bucket_boundaries=list(bucket_boundaries),
            bucket_batch_sizes=[batch_size] * (len(bucket_boundaries) + 1),
        )
    return ds.prefetch(tf.data.AUTOTUNE)
