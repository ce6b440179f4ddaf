"""`zoo_numbers_translate`: an offline stand-in for `ted_hrlr_translate/pt_to_en`.

TED talks cannot be downloaded here. Number words are a real pt -> en
translation problem in miniature: source and target lengths differ, word
order and the Portuguese "e" rules must be learnt, and correctness is exact,
so a small seq2seq model can be checked in minutes.
"""

import numpy as np
import tensorflow_datasets as tfds

from zoo.data.builders._generated import GeneratedBuilder, slice_pool

_DESCRIPTION = """
Integers from 0 to 99,999 (sampled without replacement) written as Brazilian
Portuguese number words (source, "pt") and English number words (target,
"en"), e.g. 1234 -> "mil duzentos e trinta e quatro" -> "one thousand two
hundred thirty four". English omits "and" and hyphens; Portuguese uses the
masculine forms and the standard "e" rules ("mil e cem", "dois mil e trinta",
"cento e um"). Features follow ted_hrlr_translate/pt_to_en (a Translation
feature with languages "en" and "pt").
"""

MAX_NUMBER = 99_999
SPLIT_SIZES = {"train": 6000, "validation": 500, "test": 500}
_SEED = 99_999

_PT_UNITS = (
    "zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito",
    "nove", "dez", "onze", "doze", "treze", "catorze", "quinze", "dezesseis",
    "dezessete", "dezoito", "dezenove",
)  # fmt: skip
_PT_TENS = ("", "", "vinte", "trinta", "quarenta", "cinquenta", "sessenta",
            "setenta", "oitenta", "noventa")  # fmt: skip
_PT_HUNDREDS = ("", "cento", "duzentos", "trezentos", "quatrocentos", "quinhentos",
                "seiscentos", "setecentos", "oitocentos", "novecentos")  # fmt: skip

_EN_UNITS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
    "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen",
    "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy",
            "eighty", "ninety")  # fmt: skip


def _pt_below_1000(n: int) -> str:
    """1..999; every part is joined with "e" (cento e vinte e três)."""
    if n == 100:
        return "cem"
    parts = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        parts.append(_PT_HUNDREDS[hundreds])
    if rest >= 20:
        tens, units = divmod(rest, 10)
        parts.append(_PT_TENS[tens])
        if units:
            parts.append(_PT_UNITS[units])
    elif rest:
        parts.append(_PT_UNITS[rest])
    return " e ".join(parts)


def pt_words(n: int) -> str:
    """Brazilian Portuguese number words for 0 <= n <= 99,999.

    Args:
        n: the number.

    Returns:
        The words, e.g. 1234 -> "mil duzentos e trinta e quatro".

    Raises:
        ValueError: `n` is outside 0..99,999.
    """
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"{n} is outside 0..{MAX_NUMBER}")
    if n == 0:
        return "zero"
    thousands, rest = divmod(n, 1000)
    if not thousands:
        return _pt_below_1000(rest)
    head = "mil" if thousands == 1 else f"{_pt_below_1000(thousands)} mil"
    if not rest:
        return head
    # "e" after mil only when the remainder is below 100 or a round hundred:
    # "mil e cem", "dois mil e trinta", but "mil duzentos e trinta e quatro".
    joiner = " e " if rest < 100 or rest % 100 == 0 else " "
    return head + joiner + _pt_below_1000(rest)


def _en_below_1000(n: int) -> list[str]:
    words = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_EN_UNITS[hundreds], "hundred"]
    if rest >= 20:
        tens, units = divmod(rest, 10)
        words.append(_EN_TENS[tens])
        if units:
            words.append(_EN_UNITS[units])
    elif rest:
        words.append(_EN_UNITS[rest])
    return words


def en_words(n: int) -> str:
    """English number words for 0 <= n <= 99,999, without "and" or hyphens.

    Args:
        n: the number.

    Returns:
        The words, e.g. 1234 -> "one thousand two hundred thirty four".

    Raises:
        ValueError: `n` is outside 0..99,999.
    """
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"{n} is outside 0..{MAX_NUMBER}")
    if n == 0:
        return "zero"
    thousands, rest = divmod(n, 1000)
    words = []
    if thousands:
        words += _en_below_1000(thousands) + ["thousand"]
    words += _en_below_1000(rest)
    return " ".join(words)


def generate_splits() -> dict[str, list[tuple[int, dict[str, str]]]]:
    """Returns {split: [(number, {"en": ..., "pt": ...}), ...]}, same every call.

    Returns:
        `train` (6,000), `validation` (500) and `test` (500) examples of distinct numbers,
        keyed by the number: `{"en": English words, "pt": Portuguese words}`.
    """
    rng = np.random.default_rng(_SEED)
    # Sampling without replacement makes every example unique across splits.
    numbers = rng.choice(MAX_NUMBER + 1, size=sum(SPLIT_SIZES.values()), replace=False)
    return slice_pool(
        numbers,
        SPLIT_SIZES,
        lambda _, n: (int(n), {"en": en_words(int(n)), "pt": pt_words(int(n))}),
    )


class ZooNumbersTranslate(GeneratedBuilder):
    """Portuguese -> English number words: a small, exactly checkable pt_to_en."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=_DESCRIPTION,
            features=tfds.features.Translation(languages=("en", "pt")),
            supervised_keys=("pt", "en"),
            homepage=None,
        )

    generate_splits = staticmethod(generate_splits)
