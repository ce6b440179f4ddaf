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
    inside words, so "don't" and "'s" survive), collapse whitespace, optionally truncate.

    TensorFlow ops only, so that `tf.data`, traced predict functions and exported serving
    signatures run the same code. `tf.strings.lower` is called without an encoding, so only
    ASCII letters are lowercased ("Ça" stays "Ça"). The split-off punctuation is
    `. , ! ? ; : ( ) "`; `<br>` and `<br />` are removed only in lowercase (or after
    lowercasing).

    Args:
        text: string tensor, a scalar or of shape (batch,).
        lowercase: lowercase first.
        max_tokens: keep at most this many tokens per text; None keeps all.

    Returns:
        String tensor of the same shape: tokens joined by single spaces, no leading or
        trailing space.
    """
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
    refused by position. Python's notion of blank includes TensorFlow's.

    Args:
        texts: raw input texts.

    Returns:
        `texts`, unchanged.

    Raises:
        BadInputError: a text is empty, blank or only `<br>` line breaks (the message gives
            the first such input's position, counting from 1, when there are several).
    """
    empty = [i for i, t in enumerate(texts) if not _BREAKS.sub(" ", t).strip()]
    if empty:
        which = f"input {empty[0] + 1} of {len(texts)}" if len(texts) > 1 else "the input"
        raise BadInputError(
            f"{which} has no words once normalised (it is empty or blank); give each input at "
            "least one word."
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

    Index 0 (padding) and 1 (unknown) are not in the list: the preprocessing's lookups
    (`zoo.data.preprocessing.Preprocessing.token_ids`) add them, so entry i has id i + 2.

    Args:
        tokens: every token occurrence in the training data (`str`, or UTF-8 `bytes` as
            numpy yields them).
        max_size: most entries in the list, `reserved` included (the 2 reserved ids not).
        min_count: tokens seen fewer times are left out (they will read as `[UNK]`).
        reserved: tokens put first, in order, whatever their counts (e.g. `[start]`,
            `[end]`). "" and `[UNK]` never become entries.

    Returns:
        The vocabulary: `reserved`, then the kept tokens by falling count.

    Raises:
        ZooError: no token occurs `min_count` or more times (e.g. an empty training split).
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
    """The number of ids of a vocabulary: its tokens plus padding (0) and unknown (1).

    Args:
        vocabulary: a list from `build_vocabulary`.

    Returns:
        `len(vocabulary) + 2`: an embedding's input size, or a softmax's output size.
    """
    return len(vocabulary) + 2


def ids_to_tokens(
    ids: Iterable[int], vocabulary: list[str], *, stop: Iterable[str] = (END,)
) -> list[str]:
    """Decode ids up to the first stop token, skipping padding and the `[start]` marker
    (unknown ids read as `[UNK]`).

    Args:
        ids: token ids, any iterable of ints or a 1-D array; id i >= 2 is
            `vocabulary[i - 2]`.
        vocabulary: the vocabulary the ids index.
        stop: tokens that end the sequence; the stop token itself is not returned.

    Returns:
        The tokens.
    """
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
    """Undo `normalize`'s spacing of punctuation, so output reads (and scores BLEU) as raw text.

    Args:
        sentences: string tensor of any shape, normalised text.

    Returns:
        String tensor of the same shape, without the space before `. , ! ? ; : )`. Opening
        brackets and quotes keep their spacing.
    """
    return tf.strings.regex_replace(sentences, r" ([.,!?;:)])", r"\1")
