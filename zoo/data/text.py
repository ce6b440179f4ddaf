"""Text normalisation and vocabularies (a task's preprocessing turns words into ids with them).

Text is normalised with TensorFlow ops so that the same function serves the `tf.data`
pipeline at training time and `predict` at inference time.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import numpy as np
import tensorflow as tf

from zoo.errors import BadInputError, ZooError

PAD, UNK, START, END = "", "[UNK]", "[start]", "[end]"


def normalize(
    text: tf.Tensor, *, lowercase: bool = True, max_tokens: int | None = None
) -> tf.Tensor:
    """Lowercase, drop HTML line breaks, split punctuation into tokens (apostrophes stay
    inside words, so "don't" and "'s" survive), collapse whitespace, optionally truncate."""
    if lowercase:
        text = tf.strings.lower(text)
    text = tf.strings.regex_replace(text, r"<br\s*/?>", " ")
    text = tf.strings.regex_replace(text, r"([.,!?;:()\"])", r" \1 ")
    text = tf.strings.strip(tf.strings.regex_replace(text, r"\s+", " "))
    if max_tokens is not None:
        tokens = tf.strings.split(text)
        tokens = tokens[:max_tokens] if text.shape.rank == 0 else tokens[:, :max_tokens]
        text = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
    return text


_BREAKS = re.compile(r"<br\s*/?>", re.IGNORECASE)


def require_words(texts: list[str]) -> list[str]:
    """Raw inputs, checked before they reach a model: a recurrent layer cannot read zero
    steps, so an input that normalises to nothing (empty, blank, only line breaks) is
    refused by position. Python's notion of blank includes TensorFlow's."""
    empty = [i for i, t in enumerate(texts) if not _BREAKS.sub(" ", t).strip()]
    if empty:
        raise BadInputError(
            f"input {empty[0] + 1} of {len(texts)} has no words once normalised "
            f"(it is empty or blank); give each input at least one word."
        )
    return texts


def build_vocabulary(
    tokens: Iterable[str | bytes],
    *,
    max_size: int,
    min_count: int = 1,
    reserved: Iterable[str] = (),
) -> list[str]:
    """Most frequent tokens first, ties broken alphabetically so a vocabulary is reproducible.

    Index 0 (padding) and 1 (unknown) are not in the list: `lookup` adds them.
    """
    counts = Counter(t.decode() if isinstance(t, bytes) else t for t in tokens)
    reserved = list(reserved)
    for token in [PAD, UNK, *reserved]:
        counts.pop(token, None)
    ranked = sorted(
        (item for item in counts.items() if item[1] >= min_count), key=lambda kv: (-kv[1], kv[0])
    )
    if not ranked:
        raise ZooError(
            f"no token occurs {min_count} or more times in the training data, so there is no vocabulary to learn: "
            "check that the training split is not empty and holds text in the expected feature."
        )
    return reserved + [word for word, _ in ranked[: max_size - len(reserved)]]


def vocabulary_size(vocabulary: list[str]) -> int:
    return len(vocabulary) + 2


def ids_to_tokens(
    ids: Iterable[int], vocabulary: list[str], *, stop: Iterable[str] = (END,)
) -> list[str]:
    """Decode ids up to the first stop token, skipping padding and reserved markers."""
    words: list[str] = []
    stop = set(stop)
    for i in np.asarray(ids).tolist():
        word = vocabulary[i - 2] if i >= 2 else (UNK if i == 1 else PAD)
        if word in stop:
            break
        if word not in (PAD, START):
            words.append(word)
    return words


def attach_punctuation(sentences: tf.Tensor) -> tf.Tensor:
    """Undo `normalize`'s spacing of punctuation, so output reads (and scores BLEU) as raw text."""
    return tf.strings.regex_replace(sentences, r" ([.,!?;:)])", r"\1")
