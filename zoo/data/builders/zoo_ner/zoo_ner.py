"""`zoo_ner`: an offline stand-in for `conll2003` (many-to-many, equal lengths).

CoNLL-2003 cannot be downloaded here. Templated newswire-like sentences give
one IOB2 tag per token with the same tag names and order as TFDS's
conll2003, and some words change type with context ("Jordan said" vs
"in Jordan", "Madrid" vs "Real Madrid"), so a tagger must read neighbours
rather than memorise a gazetteer.
"""

from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from zoo.data.builders._generated import GeneratedBuilder, slice_pool

_DESCRIPTION = """
Templated English sentences in CoNLL style (cased tokens, punctuation as
separate tokens) with IOB2 named-entity tags over PER, ORG, LOC and MISC
(nationalities, events, languages). Entities come from small gazetteers, with
multi-token names ("New York", "United Nations", "Tour de France") and words
whose type depends on context ("Jordan", "Washington", "Lincoln", "Ford",
"Chelsea", "Madrid", "Manchester", "England", "France"). len(tokens) ==
len(ner) always. The "ner" ClassLabel names and order equal TFDS conll2003's;
"id" is the example's index. Unlike TFDS conll2003 there are no "pos" or
"chunks" features, and the held-out split is called "validation" (conll2003
says "dev").
"""

# Same names, same order as tfds conll2003 (conll_dataset_builder_utils.NER_TAGS).
NER_TAGS = (
    "O",
    "B-PER",
    "I-PER",
    "B-ORG",
    "I-ORG",
    "B-LOC",
    "I-LOC",
    "B-MISC",
    "I-MISC",
)

_FIRST_NAMES = (
    "John", "Mary", "David", "Sarah", "Michael", "Anna", "Peter", "Laura",
    "James", "Emma", "Thomas", "Maria", "Robert", "Linda", "Carlos", "Yuki",
    "Ahmed", "Olga", "Pierre", "Sofia", "Chelsea",
)  # fmt: skip
_LAST_NAMES = (
    "Smith", "Johnson", "Brown", "Miller", "Garcia", "Mueller", "Rossi",
    "Tanaka", "Kowalski", "Dubois", "Novak", "Silva", "Jensen", "Okafor",
    "Clarke", "Jordan", "Washington", "Lincoln", "Ford",
)  # fmt: skip
_ORGS = (
    "Acme Corp", "United Nations", "Reuters", "General Motors", "Deutsche Bank",
    "World Health Organization", "Real Madrid", "Manchester United", "Chelsea",
    "Red Cross", "European Commission", "Toyota", "BBC", "NATO",
    "Bank of England", "Ford", "Siemens", "Ajax", "Greenpeace", "Nestle",
)  # fmt: skip
_LOCS = (
    "Paris", "London", "Berlin", "Tokyo", "Madrid", "Jordan", "Washington",
    "New York", "Buenos Aires", "Hong Kong", "South Africa", "Rio de Janeiro",
    "Germany", "France", "Brazil", "Kenya", "Canada", "Sri Lanka",
    "Los Angeles", "Manchester", "England", "Lincoln", "Nairobi", "Moscow",
)  # fmt: skip
_NATIONALITIES = (
    "German", "French", "Brazilian", "Japanese", "British", "American",
    "Kenyan", "Canadian", "Spanish", "Russian",
)  # fmt: skip
_EVENTS = (
    "World Cup", "Olympic Games", "Tour de France", "Davis Cup", "Nobel Prize",
    "Euro 2024", "US Open",
)  # fmt: skip
_LANGUAGES = ("English", "Spanish", "German", "French", "Japanese", "Swahili")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "March", "April", "June", "July", "September", "November")
_ORDINALS = ("second", "third", "fourth", "fifth")

# Sentence templates; {TYPE} or {TYPE2} marks a slot, every other token is O.
_TEMPLATES = (
    "{PER} visited {LOC} with {ORG} on {DAY} .",
    "{PER} said on {DAY} that {ORG} would open an office in {LOC} .",
    "{ORG} shares rose {NUM} percent in {LOC} trading .",
    "The {NAT} team won the {EVENT} in {LOC} .",
    "{PER} , a {NAT} player , joined {ORG} .",
    "{PER} of {ORG} told reporters in {LOC} .",
    "Police in {LOC} arrested {NUM} people on {DAY} .",
    "{ORG} signed a deal with {ORG2} on {DAY} .",
    "{LOC} beat {LOC2} {SCORE} - {SCORE2} in the {EVENT} .",
    "{PER} scored twice as {ORG} beat {ORG2} {SCORE} - {SCORE2} .",
    "{NAT} officials met {PER} in {LOC} on {DAY} .",
    "{PER} will travel to {LOC} for the {EVENT} in {MONTH} .",
    "Shares of {ORG} fell {NUM} percent on {DAY} .",
    "The talks in {LOC} ended without a deal on {DAY} .",
    "{PER} said .",
    "{PER} said the {NAT} economy would grow in {MONTH} .",
    "Fans travelled from {LOC} to {LOC2} to watch the {EVENT} .",
    "{PER} speaks {LANG} and {LANG2} .",
    "The market closed higher on {DAY} .",
    "Prices fell {NUM} percent in {MONTH} .",
    "{ORG} , based in {LOC} , reported a profit of {NUM} million dollars .",
    "{PER} told {ORG} that {PER2} would resign .",
    "In {LOC} , {PER} won the {EVENT} for the {ORD} time .",
    "{NAT} and {NAT2} ministers met in {LOC} on {DAY} .",
    "{PER} ( {LOC} ) beat {PER2} ( {LOC2} ) {SCORE} - {SCORE2} .",
    "The {EVENT} starts in {LOC} on {DAY} .",
    "Rain delayed play in {LOC} on {DAY} .",
    "{ORG} named {PER} as chief executive on {DAY} .",
    "{PER} was born in {LOC} in {MONTH} .",
    "Visitors to {LOC} rose sharply in {MONTH} .",
    "{ORG} said it would cut {NUM} jobs in {LOC} .",
)

SPLIT_SIZES = {"train": 3000, "validation": 500, "test": 500}
_SEED = 2003

Example = dict[str, Any]


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[rng.integers(len(options))]


def _person(rng: np.random.Generator) -> str:
    r = rng.random()
    if r < 0.6:
        return f"{_pick(rng, _FIRST_NAMES)} {_pick(rng, _LAST_NAMES)}"
    # CoNLL often refers to people by surname alone ("Jordan said").
    return _pick(rng, _LAST_NAMES) if r < 0.9 else _pick(rng, _FIRST_NAMES)


def _fill(rng: np.random.Generator, slot: str) -> tuple[list[str], str | None]:
    """Returns (tokens, entity type or None) for one template slot."""
    kind = slot.rstrip("2")
    if kind == "PER":
        return _person(rng).split(), "PER"
    if kind == "ORG":
        return _pick(rng, _ORGS).split(), "ORG"
    if kind == "LOC":
        return _pick(rng, _LOCS).split(), "LOC"
    if kind in ("NAT", "EVENT", "LANG"):
        gazetteer = {"NAT": _NATIONALITIES, "EVENT": _EVENTS, "LANG": _LANGUAGES}[kind]
        return _pick(rng, gazetteer).split(), "MISC"
    if kind == "NUM":
        return [str(rng.integers(1, 100))], None
    if kind == "SCORE":
        return [str(rng.integers(0, 6))], None
    plain = {"DAY": _DAYS, "MONTH": _MONTHS, "ORD": _ORDINALS}[kind]
    return [_pick(rng, plain)], None


def make_sentence(rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """One sentence as (tokens, IOB2 tags), always of equal length.

    Args:
        rng: the random generator, advanced by the draws.

    Returns:
        `(tokens, tags)`: cased tokens, punctuation separate, and one tag of `NER_TAGS` per
        token.
    """
    tokens: list[str] = []
    tags: list[str] = []
    for word in _pick(rng, _TEMPLATES).split():
        if not (word.startswith("{") and word.endswith("}")):
            tokens.append(word)
            tags.append("O")
            continue
        words, entity = _fill(rng, word[1:-1])
        tokens.extend(words)
        if entity is None:
            tags.extend("O" for _ in words)
        else:
            tags.extend([f"B-{entity}"] + [f"I-{entity}"] * (len(words) - 1))
    for i in range(len(tokens) - 1):
        if tokens[i] == "a" and tokens[i + 1][0] in "AEIOU":
            tokens[i] = "an"  # "an American player"
    return tokens, tags


def generate_splits() -> dict[str, list[tuple[str, Example]]]:
    """Returns {split: [(id, example), ...]}, identical on every call.

    Returns:
        `train` (3,000), `validation` (500) and `test` (500) unique sentences, keyed by
        their index as a string: `id` (that string), `tokens` and `ner` (tag names).
    """
    rng = np.random.default_rng(_SEED)
    total = sum(SPLIT_SIZES.values())
    pool: list[tuple[list[str], list[str]]] = []
    seen: set[tuple[str, ...]] = set()
    # Deduplicating the whole pool before slicing keeps the splits disjoint.
    while len(pool) < total:
        tokens, tags = make_sentence(rng)
        if tuple(tokens) not in seen:
            seen.add(tuple(tokens))
            pool.append((tokens, tags))

    return slice_pool(
        pool, SPLIT_SIZES, lambda i, ex: (str(i), {"id": str(i), "tokens": ex[0], "ner": ex[1]})
    )


class ZooNer(GeneratedBuilder):
    """Templated CoNLL-style NER with context-dependent entities: a small conll2003."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=_DESCRIPTION,
            features=tfds.features.FeaturesDict(
                {
                    "id": tfds.features.Text(),
                    "tokens": tfds.features.Sequence(tfds.features.Text()),
                    "ner": tfds.features.Sequence(tfds.features.ClassLabel(names=list(NER_TAGS))),
                }
            ),
            supervised_keys=("tokens", "ner"),
            homepage=None,
        )

    generate_splits = staticmethod(generate_splits)
