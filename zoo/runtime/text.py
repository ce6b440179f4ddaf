"""Text rules shared by the zoo and the runtime, and their Python implementation.

The rules are data: regular expressions written so that RE2 (TensorFlow's
`tf.strings.regex_replace`, which `zoo.data.text.normalize` runs in `tf.data` and serving
signatures) and the `regex` package (this module, without TensorFlow) read them alike.
White space is spelled out (`WHITESPACE`) because RE2's `\\s` is ASCII only while Python's
is Unicode. `tests/test_runtime_preprocessing.py` checks, over generated Unicode text,
that both give the same tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import regex

from zoo_runtime.visible import FORMAT_CHARACTERS, is_blank

PAD, UNK, START, END = "", "[UNK]", "[start]", "[end]"
#: ids every vocabulary reserves before its tokens: entry i of a vocabulary has id i + 2
PAD_ID, UNK_ID = 0, 1

#: how text is cut into tokens: at spaces and punctuation (`WORDS`), or, in addition, one
#: token per character of a script written without spaces between words (`CHARACTERS`)
WORDS, CHARACTERS = "words", "characters"
#: pieces of a SentencePiece model learnt from the training text (`zoo_runtime.subwords`)
SUBWORDS = "subwords"
#: most tokens of one input that `predict`, `evaluate` and serving signatures read: a
#: recurrent layer reads any length, but time and memory of a batch grow with its longest
#: input; a longer input is cut here, and the result says so (`truncated`)
MAX_INPUT_TOKENS = 2000

#: the white space RE2's `\s` matches (ASCII; not the vertical tab)
WHITESPACE = r"[\t\n\f\r ]"
#: the characters `tf.strings.split` and `tf.strings.strip` treat as white space (ASCII)
SPLIT_WHITESPACE = " \t\n\v\f\r"
#: HTML line breaks, read as a space (lowercase only: `normalize` lowercases first)
BREAKS = rf"<br{WHITESPACE}*/?>"
#: HTML line breaks in any case, for SentencePiece units (which keep case)
ANY_CASE_BREAKS = rf"<[bB][rR]{WHITESPACE}*/?>"
#: punctuation split off into tokens of its own (apostrophes stay inside words)
PUNCTUATION = r"([.,!?;:()\"])"
#: the characters `CHARACTERS` cuts one by one: Chinese, Japanese, Thai, Lao, Khmer and
#: Burmese letters, and CJK and full-width punctuation. Spelled out as code point ranges (a
#: class body), not as the script classes they were made from (RE2's `[\p{Han}\p{Hiragana}
#: \p{Katakana}\x{30FC}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\x{3000}-\x{303F}\x{FF00}-
#: \x{FFEF}]` in TensorFlow 2.21): RE2 and the `regex` package know different Unicode
#: versions, and a script class would drift with either; ranges read the same in both.
UNSPACED = (
    "\u0e01-\u0e3a\u0e40-\u0e5b\u0e81-\u0e82\u0e84\u0e86-\u0e8a\u0e8c-\u0ea3\u0ea5"
    "\u0ea7-\u0ebd\u0ec0-\u0ec4\u0ec6\u0ec8-\u0ece\u0ed0-\u0ed9\u0edc-\u0edf"
    "\u1000-\u109f\u1780-\u17dd\u17e0-\u17e9\u17f0-\u17f9\u19e0-\u19ff\u2e80-\u2e99"
    "\u2e9b-\u2ef3\u2f00-\u2fd5\u3000-\u303f\u3041-\u3096\u309d-\u309f\u30a1-\u30fa"
    "\u30fc-\u30ff\u31f0-\u31ff\u32d0-\u32fe\u3300-\u3357\u3400-\u4dbf\u4e00-\u9fff"
    "\ua9e0-\ua9fe\uaa60-\uaa7f\uf900-\ufa6d\ufa70-\ufad9\uff00-\uffef"
    "\U00016fe2-\U00016fe3\U00016ff0-\U00016ff1\U0001aff0-\U0001aff3"
    "\U0001aff5-\U0001affb\U0001affd-\U0001affe\U0001b000-\U0001b122\U0001b132"
    "\U0001b150-\U0001b152\U0001b155\U0001b164-\U0001b167\U0001f200"
    "\U00020000-\U0002a6df\U0002a700-\U0002b739\U0002b740-\U0002b81d"
    "\U0002b820-\U0002cea1\U0002ceb0-\U0002ebe0\U0002f800-\U0002fa1d"
    "\U00030000-\U0003134a\U00031350-\U000323af"
)
#: CJK punctuation that closes a clause or a bracket: written without a space before it
CJK_CLOSING = r"、。，！？；：）」』】〕〉》"
#: punctuation `attach_punctuation` joins to the word before it
CLOSING_PUNCTUATION = r" ([.,!?;:)])"

_FORMAT = regex.compile(FORMAT_CHARACTERS)
_BREAKS = regex.compile(BREAKS)
_ANY_CASE_BREAKS = regex.compile(ANY_CASE_BREAKS)
_PUNCTUATION = regex.compile(PUNCTUATION)
_UNSPACED = regex.compile(f"([{UNSPACED}])")
_RUNS = regex.compile(f"{WHITESPACE}+")
_PAIR = regex.compile(f"([{UNSPACED}]) ([{UNSPACED}])")
_CLOSING_CJK = regex.compile(f" ([{CJK_CLOSING}])")
_CLOSING = regex.compile(CLOSING_PUNCTUATION)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def lower_ascii(text: str) -> str:
    """Lowercase ASCII letters only, as `tf.strings.lower` without an encoding does.

    Args:
        text: any text.

    Returns:
        The text with A-Z lowercased ("Ça" stays "Ça").
    """
    return text.translate(_ASCII_LOWER)


def split(text: str) -> list[str]:
    """Tokens of a text split at ASCII white space, as `tf.strings.split` cuts them.

    Args:
        text: any text.

    Returns:
        The non-empty pieces between runs of `SPLIT_WHITESPACE`.
    """
    tokens = [text]
    for space in SPLIT_WHITESPACE:
        tokens = [piece for token in tokens for piece in token.split(space)]
    return [t for t in tokens if t]


def normalize(
    text: str, *, lowercase: bool = True, max_tokens: int | None = None, units: str = WORDS
) -> list[str]:
    """The tokens `zoo.data.text.normalize` makes of a text (its docstring has the rules).

    Args:
        text: one raw text.
        lowercase: lowercase ASCII letters first.
        max_tokens: keep at most this many tokens; None keeps all.
        units: `WORDS` or `CHARACTERS`.

    Returns:
        The tokens, in order.
    """
    if lowercase:
        text = lower_ascii(text)
    text = _FORMAT.sub("", text)
    text = _BREAKS.sub(" ", text)
    text = _PUNCTUATION.sub(r" \1 ", text)
    if units == CHARACTERS:
        text = _UNSPACED.sub(r" \1 ", text)
    tokens = split(_RUNS.sub(" ", text))
    return tokens if max_tokens is None else tokens[:max_tokens]


def without_breaks(text: str) -> str:
    """HTML line breaks of any case read as spaces (before SentencePiece, which keeps case).

    Args:
        text: one raw text.

    Returns:
        The text with each `<br>`, `<BR />`... replaced by a space.
    """
    return _ANY_CASE_BREAKS.sub(" ", text)


def token_ids(tokens: Iterable[str], lookup: dict[str, int]) -> list[int]:
    """Tokens -> ids: 0 for "" (padding), the vocabulary's id, or 1 (unknown).

    Args:
        tokens: the tokens.
        lookup: token -> id, as `lookup_of` makes it.

    Returns:
        One id per token.
    """
    return [PAD_ID if t == PAD else lookup.get(t, UNK_ID) for t in tokens]


def lookup_of(vocabulary: Sequence[str]) -> dict[str, int]:
    """A vocabulary's ids: entry i has id i + 2 (the first occurrence of a repeated entry).

    Args:
        vocabulary: tokens, most frequent first.

    Returns:
        Token -> id.
    """
    lookup: dict[str, int] = {}
    for i, token in enumerate(vocabulary):
        lookup.setdefault(token, i + 2)
    return lookup


def ids_to_tokens(
    ids: Iterable[int], vocabulary: Sequence[str], *, stop: Iterable[str] = (END,)
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
    for i in (int(i) for i in ids):
        word = vocabulary[i - 2] if i >= 2 else (UNK if i == 1 else PAD)
        if word in stop:
            break
        if word not in (PAD, START):
            words.append(word)
    return words


def attach_punctuation(sentence: str) -> str:
    """Undo `normalize`'s spacing of punctuation (`zoo.data.text.attach_punctuation`).

    Args:
        sentence: tokens joined by single spaces.

    Returns:
        The sentence without the space before `. , ! ? ; : )`.
    """
    return _CLOSING.sub(r"\1", sentence)


def join_units(sentence: str, units: str) -> str:
    """Undo `normalize`'s spacing of `CHARACTERS` units (`zoo.data.text.join_units`).

    Args:
        sentence: tokens joined by single spaces.
        units: the units the tokens were cut into; `WORDS` returns `sentence` unchanged.

    Returns:
        The sentence, characters of unspaced scripts joined again.
    """
    if units != CHARACTERS:
        return sentence
    for _ in range(2):  # as RE2 has no lookahead, the TensorFlow rule runs two passes
        sentence = _PAIR.sub(r"\1\2", sentence)
    return _CLOSING_CJK.sub(r"\1", sentence)


def require_words(texts: list[Any], error: Callable[[str], Exception]) -> list[str]:
    """Raw inputs, checked before they reach a model: each must be text, and an input that
    normalises to nothing (empty, blank, only line breaks or invisible format characters)
    is refused by position.

    Args:
        texts: raw inputs.
        error: the exception type to raise (the zoo's `BadInputError`, the runtime's
            `RuntimeInputError`).

    Returns:
        `texts`, unchanged.

    Raises:
        Exception: of type `error`: an input is not a `str`, or has nothing visible (the
            message gives the first such input's position, counting from 1).
    """

    def which(i: int) -> str:
        return f"input {i + 1} of {len(texts)}" if len(texts) > 1 else "the input"

    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise error(
                f"{which(i)} is {type(t).__name__} {t!r:.40}, not text; give each input as a string."
            )
    empty = [i for i, t in enumerate(texts) if is_blank(_ANY_CASE_BREAKS.sub(" ", t))]
    if empty:
        raise error(
            f"{which(empty[0])} has no words once normalised (it is empty, blank or invisible "
            "characters only); give each input at least one word."
        )
    return texts


# casing classes of the tagger's `casing` input; 0 is padding
LOWER, TITLE, UPPER, DIGIT, OTHER = 1, 2, 3, 4, 5
#: (class, full-match rule) in the order the first match wins; RE2 and `regex` alike
CASING_RULES = (
    (DIGIT, r".*[0-9].*"),
    (UPPER, r"[^a-z]*[A-Z][^a-z]*"),
    (TITLE, r"[A-Z][^A-Z]*"),
    (LOWER, r"[^A-Z]*[a-z][^A-Z]*"),
)
_CASING = [(cls, regex.compile(rule)) for cls, rule in CASING_RULES]


def casing(token: str) -> int:
    """The casing class of a token (`zoo.tasks.many_to_many_equal.casing`'s rules).

    Args:
        token: one token; "" is padding.

    Returns:
        0 for padding, else the first class of `CASING_RULES` whose rule matches the whole
        token, `OTHER` where none does.
    """
    if token == PAD:
        return 0
    return next((cls for cls, rule in _CASING if rule.fullmatch(token)), OTHER)


def sentence_tokens(inputs: list[Any], error: Callable[[str], Exception]) -> list[list[str]]:
    """A tagger's raw inputs -> their tokens: a sentence (`str`) is split on white space and
    loses its invisible-only "words" (a stray zero-width space); a token list keeps its
    positions, so such a token is refused.

    Args:
        inputs: sentences or token lists.
        error: the exception type to raise.

    Returns:
        One token list per input.

    Raises:
        Exception: of type `error`: an input that is neither, an empty sentence, or a token
            that is not a non-blank string.
    """
    for s in inputs:
        if not isinstance(s, str | list | tuple):  # None, a number: never a word
            raise error(
                f"an input is {type(s).__name__} {s!r:.40}; give a sentence (a string) or a "
                "list of string tokens."
            )
    sentences = [
        [t for t in s.split() if not is_blank(t)] if isinstance(s, str) else list(s) for s in inputs
    ]
    for tokens in sentences:
        if not tokens or not all(isinstance(t, str) and not is_blank(t) for t in tokens):
            raise error(
                "each input must be a non-empty sentence or a list of non-empty string tokens "
                "(invisible characters such as zero-width spaces alone are no token)."
            )
    return sentences


def parse_token_list(argument: str, error: Callable[[str], Exception]) -> list[Any]:
    """One command-line argument of a tagger: a JSON token list where it starts with `[`,
    else the argument split on white space.

    Args:
        argument: the argument.
        error: the exception type to raise.

    Returns:
        The tokens.

    Raises:
        Exception: of type `error`: broken JSON.
    """
    import json

    if argument.lstrip().startswith("["):
        try:
            return json.loads(argument)
        except json.JSONDecodeError as err:
            raise error(f"not a JSON token list: {err.msg} at character {err.pos}.") from err
    return argument.split()
