from __future__ import annotations

import tensorflow as tf

from zoo.data import text
from zoo.tasks.many_to_one import TextClassificationPreprocessing


def test_normalize_keeps_apostrophes_and_splits_punctuation() -> None:
    out = text.normalize(tf.constant("It's NOT bad,<br />isn't it?")).numpy().decode()
    assert out == "it's not bad , isn't it ?"


def test_normalize_truncates_scalars_and_batches() -> None:
    assert text.normalize(tf.constant("a b c d"), max_tokens=2).numpy() == b"a b"
    assert text.normalize(tf.constant(["a b c", "d"]), max_tokens=2).numpy().tolist() == [
        b"a b",
        b"d",
    ]


def test_vocabulary_is_frequency_then_alphabet_with_reserved_first() -> None:
    vocab = text.build_vocabulary(["b", "a", "c", "b", "a", "d"], max_size=4, reserved=[text.START])
    assert vocab == [text.START, "a", "b", "c"]
    ids = (
        TextClassificationPreprocessing(vocabulary=vocab)
        .token_ids("vocabulary", tf.constant(["a", "zzz", ""]))
        .numpy()
        .tolist()
    )
    assert ids == [3, 1, 0]  # known word, unknown word, padding
    assert (
        text.ids_to_tokens([2, 3, 4, 1, 0], [text.START, text.END, "a"]) == []
    )  # [start] skipped, [end] stops
    assert text.ids_to_tokens([4, 4, 3, 4], [text.START, text.END, "a"]) == ["a", "a"]
