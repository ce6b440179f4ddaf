"""Text normalisation and vocabularies (a task's preprocessing turns words into ids with them).

Text is normalised with TensorFlow ops so that the same function serves the `tf.data`
pipeline at training time and `predict` at inference time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import tensorflow as tf

from zoo.errors import BadInputError, ZooError
from zoo_runtime import text as rules

# the rules and constants the runtime shares (`zoo_runtime.text`): one definition
from zoo_runtime.text import (  # noqa: F401  (re-exported: the zoo's modules read them here)
    CHARACTERS,
    END,
    MAX_INPUT_TOKENS,
    PAD,
    START,
    SUBWORDS,
    UNK,
    UNSPACED,
    WORDS,
    ids_to_tokens,
)
from zoo_runtime.visible import FORMAT_CHARACTERS

#: the writing systems `writing_of` tells apart
SPACED, CHINESE, JAPANESE, OTHER_UNSPACED = "spaced", "chinese", "japanese", "unspaced"
#: a corpus is written without spaces when at least this share of its characters is
_UNSPACED_SHARE = 0.1


def normalize(
    text: tf.Tensor,
    *,
    lowercase: bool = True,
    max_tokens: int | None = None,
    units: str = WORDS,
) -> tf.Tensor:
    """Lowercase, drop invisible format characters (`zoo.data.visible`) and HTML line
    breaks, split punctuation into tokens (apostrophes stay
    inside words, so "don't" and "'s" survive), with `CHARACTERS` units split every
    character of an unspaced script (`UNSPACED`) into a token of its own, collapse
    whitespace, optionally truncate.

    TensorFlow ops only, so that `tf.data`, traced predict functions and exported serving
    signatures run the same code. `tf.strings.lower` is called without an encoding, so only
    ASCII letters are lowercased ("Ça" stays "Ça"). The split-off punctuation is
    `. , ! ? ; : ( ) "`; `<br>` and `<br />` are removed only in lowercase (or after
    lowercasing).

    Args:
        text: string tensor, a scalar or of shape (batch,).
        lowercase: lowercase first.
        max_tokens: keep at most this many tokens per text; None keeps all.
        units: `WORDS` or `CHARACTERS` (`writing_of` tells which a corpus needs); other
            scripts are cut into words either way ("我爱 Paris" -> "我 爱 paris").

    Returns:
        String tensor of the same shape: tokens joined by single spaces, no leading or
        trailing space.
    """
    if lowercase:
        text = tf.strings.lower(text)
    # invisible format characters (zero-width spaces, joiners, soft hyphens) are no text: a
    # token of them alone would be a word of nothing (`zoo.data.visible`)
    text = tf.strings.regex_replace(text, FORMAT_CHARACTERS, "")
    text = tf.strings.regex_replace(text, rules.BREAKS, " ")
    text = tf.strings.regex_replace(text, rules.PUNCTUATION, r" \1 ")
    if units == CHARACTERS:
        text = tf.strings.regex_replace(text, f"([{UNSPACED}])", r" \1 ")
    text = tf.strings.strip(tf.strings.regex_replace(text, f"{rules.WHITESPACE}+", " "))
    if max_tokens is not None:
        tokens = tf.strings.split(text)
        tokens = tokens[:max_tokens] if text.shape.rank == 0 else tokens[:, :max_tokens]
        text = tf.strings.reduce_join(tokens, axis=-1, separator=" ")
    return text


def beyond_input_limit(texts: tf.Tensor, *, units: str = WORDS) -> tf.Tensor:
    """Which texts have more normalised tokens than inference reads (`MAX_INPUT_TOKENS`).

    Args:
        texts: string tensor of shape (batch,), raw texts.
        units: the units `normalize` cuts them into.

    Returns:
        bool tensor of shape (batch,).
    """
    lengths = tf.strings.split(normalize(texts, units=units)).row_lengths()
    return lengths > MAX_INPUT_TOKENS


def require_words(texts: list[Any]) -> list[str]:
    """Raw inputs, checked before they reach a model (`zoo_runtime.text.require_words`:
    each must be text with something visible once normalised).

    Args:
        texts: raw inputs.

    Returns:
        `texts`, unchanged.

    Raises:
        BadInputError: an input is not a `str`, or has nothing visible (the message gives
            the first such input's position, counting from 1, when there are several).
    """
    return rules.require_words(texts, BadInputError)


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


def attach_punctuation(sentences: tf.Tensor) -> tf.Tensor:
    """Undo `normalize`'s spacing of punctuation, so output reads (and scores BLEU) as raw text.

    Args:
        sentences: string tensor of any shape, normalised text.

    Returns:
        String tensor of the same shape, without the space before `. , ! ? ; : )`. Opening
        brackets and quotes keep their spacing.
    """
    return tf.strings.regex_replace(sentences, rules.CLOSING_PUNCTUATION, r"\1")


def join_units(sentences: tf.Tensor, units: str) -> tf.Tensor:
    """Undo `normalize`'s spacing of `CHARACTERS` units: no space between two characters of
    an unspaced script ("我 爱 北 京 。" -> "我爱北京。"), nor before CJK closing punctuation,
    spaces elsewhere kept ("我 爱 paris" -> "我爱 paris"). TensorFlow ops, for `predict` and serving signatures.

    Args:
        sentences: string tensor of any shape, tokens joined by single spaces.
        units: the units the tokens were cut into; `WORDS` returns `sentences` unchanged.

    Returns:
        String tensor of the same shape.
    """
    if units != CHARACTERS:
        return sentences
    pair = f"([{UNSPACED}]) ([{UNSPACED}])"
    # RE2 has no lookahead: a pass joins every other gap of a run, the second pass the rest
    for _ in range(2):
        sentences = tf.strings.regex_replace(sentences, pair, r"\1\2")
    # CJK closing punctuation attaches to any word before it ("paris ，" -> "paris，")
    return tf.strings.regex_replace(sentences, f" ([{rules.CJK_CLOSING}])", r"\1")


def units_for(writing: str) -> str:
    """The units a writing system is cut into.

    Args:
        writing: one of `writing_of`'s answers.

    Returns:
        `WORDS` for `SPACED` text, `CHARACTERS` for any other.
    """
    return WORDS if writing == SPACED else CHARACTERS


def writing_of(sentences: tf.data.Dataset) -> str:
    """The writing system of a corpus, told by the Unicode script of its characters.

    Args:
        sentences: scalar string elements (raw sentences of one language).

    Returns:
        `SPACED` unless at least a tenth of the non-space characters are of an unspaced
        script (`UNSPACED`); then `JAPANESE` where kana make up at least a twentieth of
        those, `CHINESE` where Chinese characters make up most of them, `OTHER_UNSPACED`
        (Thai, Lao, Khmer, Burmese) otherwise.
    """

    def count(texts: tf.Tensor, keep: str) -> tf.Tensor:
        """Characters of `texts` that match the RE2 class body `keep`.

        Args:
            texts: string tensor of shape (batch,).
            keep: the inside of an RE2 character class, e.g. `\\p{Han}`.

        Returns:
            int64 scalar.
        """
        kept = tf.strings.regex_replace(texts, f"[^{keep}]", "")
        return tf.reduce_sum(tf.cast(tf.strings.length(kept, unit="UTF8_CHAR"), tf.int64))

    classes = {
        "all": r"\S",
        "unspaced": UNSPACED,
        "kana": r"\p{Hiragana}\p{Katakana}\x{30FC}",
        "han": r"\p{Han}",
    }
    totals = dict.fromkeys(classes, 0)
    for batch in sentences.batch(1024):
        for name, keep in classes.items():
            totals[name] += int(count(batch, keep))
    if totals["unspaced"] < _UNSPACED_SHARE * max(1, totals["all"]):
        return SPACED
    if totals["kana"] >= 0.05 * totals["unspaced"]:
        return JAPANESE
    return CHINESE if totals["han"] * 2 >= totals["unspaced"] else OTHER_UNSPACED
