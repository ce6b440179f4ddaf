"""The `tf.data` stage shared by every task: encoded examples in, batches for `fit` out.

`batch_pipeline` caches, shuffles with a recorded seed, buckets by length with right
padding (the padding side cuDNN needs) and prefetches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import tensorflow as tf

#: on JAX, the variable dimensions of a batch are padded up to a multiple of this
JAX_SHAPE_MULTIPLE = 8


def default_shape_multiple() -> int:
    """How far `batch_pipeline` rounds up the variable dimensions of a batch, by backend.

    JAX (XLA) compiles the training step again for every new input shape, and batches
    padded to their longest element come in dozens of shapes (on the embedded sentiment
    data, JAX trained 5x slower than TensorFlow for it); rounding up to a multiple of
    `JAX_SHAPE_MULTIPLE` bounds them. TensorFlow's traced step relaxes to unknown
    dimensions after a few shapes, so there padding would only add work.

    Returns:
        `JAX_SHAPE_MULTIPLE` on the JAX backend, else 1 (no rounding).
    """
    return JAX_SHAPE_MULTIPLE if keras.config.backend() == "jax" else 1


def pad_to_multiple(tensor: tf.Tensor, multiple: int) -> tf.Tensor:
    """Right-pad every dimension after the first whose static size is unknown up to a
    multiple of `multiple`, with 0 (or "" for strings): padding, as the batch's own.

    Args:
        tensor: a batch, of shape (batch, ...), any dtype.
        multiple: the multiple; 1 leaves the tensor as it is.

    Returns:
        The padded tensor, of the same dtype and rank.
    """
    if multiple <= 1 or tensor.shape.rank in (None, 0, 1):
        return tensor
    shape = tf.shape(tensor)
    paddings = [[0, 0]] + [
        [0, (-shape[axis]) % multiple] if tensor.shape[axis] is None else [0, 0]
        for axis in range(1, tensor.shape.rank)
    ]
    return tf.pad(tensor, paddings, constant_values=tf.zeros((), tensor.dtype))


def rounded_shapes(batches: tf.data.Dataset, multiple: int | None = None) -> tf.data.Dataset:
    """Batches whose every component has its variable dimensions padded up to a multiple
    (`pad_to_multiple`).

    Args:
        batches: batched elements, tuples of tensors or of dicts of them.
        multiple: the multiple; None: `default_shape_multiple()` (8 on JAX, else 1).

    Returns:
        The batches, unchanged where the multiple is 1.
    """
    multiple = default_shape_multiple() if multiple is None else multiple
    if multiple <= 1:
        return batches
    return batches.map(
        lambda *parts: tf.nest.map_structure(lambda t: pad_to_multiple(t, multiple), parts),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


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
    shape_multiple: int | None = None,
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
        shape_multiple: with `length_fn`, the variable dimensions of each batch are padded
            further, up to a multiple of this (`pad_to_multiple`). None:
            `default_shape_multiple()` (8 on JAX, else 1).

    Returns:
        Prefetched batches; the last one of each bucket may be smaller. With `length_fn`,
        every component is right-padded with 0 (or "") to the longest in its batch (rounded
        up to `shape_multiple`), so padded sample weights are 0.
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
        ds = rounded_shapes(ds, shape_multiple)
    return ds.prefetch(tf.data.AUTOTUNE)
