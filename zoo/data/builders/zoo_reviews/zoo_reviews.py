"""`zoo_reviews`: an offline stand-in for `imdb_reviews` (many-to-one).

Real reviews cannot be downloaded here. Templated reviews keep the point of
the task for a recurrent model: the label often depends on word order
(negation scope, which side of "but" a clause is on), so a bag of words
cannot reach 100 % while a sequence model can.
"""

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from zoo.data.builders._generated import GeneratedBuilder

_DESCRIPTION = """
Short templated movie reviews with a binary sentiment label ("neg"/"pos"),
balanced 50/50 in every split. Templates include plain opinions ("the plot was
very dull"), negation ("the acting was not bad at all", "not the worst film i
have seen"), contrast where one clause decides ("i expected a great film but
it was dull", "the score was brilliant , even though the pacing was slow"),
and neutral filler. Lowercase, space-separated tokens, punctuation split off.
Features follow `imdb_reviews` ("text", "label"); there is no
"unsupervised" split.
"""

POSITIVE = (
    "great", "brilliant", "excellent", "wonderful", "superb", "charming",
    "gripping", "moving", "delightful", "clever", "stunning", "fantastic",
    "memorable", "enjoyable", "beautiful",
)  # fmt: skip
NEGATIVE = (
    "bad", "awful", "terrible", "dull", "boring", "weak", "clumsy", "bland",
    "tedious", "predictable", "poor", "mediocre", "lifeless", "forgettable",
    "messy",
)  # fmt: skip
_SINGULAR = (
    "acting", "plot", "script", "score", "cast", "direction", "dialogue",
    "ending", "cinematography", "pacing", "soundtrack", "story", "editing",
    "humour", "film", "movie",
)  # fmt: skip
_PLURAL = ("characters", "performances", "visuals", "jokes", "effects")
_INTENSIFIERS = ("very", "really", "truly", "quite", "so", "incredibly", "rather")
_NEGATORS = ("not", "never", "hardly", "far from", "not at all", "not particularly")
_PREFIXES = ("honestly ,", "overall ,", "in my opinion", "to be fair ,", "well ,",
             "i think", "frankly ,")  # fmt: skip
_FILLER = ("i saw it last week .", "it runs about two hours .",
           "my friend picked it .", "we watched it at home .")  # fmt: skip
_KINDS = ("film", "movie", "thriller", "comedy", "drama", "sequel")

# Tokens whose presence marks an example a bag of words may misread.
NEGATION_OR_CONTRAST = frozenset({"not", "never", "hardly", "far", "but", "although", "though"})

SPLIT_SIZES = {"train": 4000, "test": 1000}
_SEED = 1234
NEG, POS = 0, 1


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str]) -> str:
    return options[rng.integers(len(options))]


def _clause(rng: np.random.Generator, polarity: int, negated: bool) -> str:
    """'<subject> was|were [negator|intensifier] <adj>' with the given polarity."""
    plural = rng.random() < 0.25
    subject = _pick(rng, _PLURAL if plural else _SINGULAR)
    verb = "were" if plural else "was"
    # A negated clause needs an adjective of the opposite polarity.
    adj_is_pos = (polarity == POS) != negated
    adj = _pick(rng, POSITIVE if adj_is_pos else NEGATIVE)
    if negated:
        negator = _pick(rng, _NEGATORS)
        tail = " at all" if negator == "not" and rng.random() < 0.3 else ""
        return f"the {subject} {verb} {negator} {adj}{tail}"
    if rng.random() < 0.5:
        adj = f"{_pick(rng, _INTENSIFIERS)} {adj}"
    return f"the {subject} {verb} {adj}"


def _plain(rng: np.random.Generator, label: int) -> str:
    return _clause(rng, label, negated=False)


def _negated(rng: np.random.Generator, label: int) -> str:
    return _clause(rng, label, negated=True)


def _but(rng: np.random.Generator, label: int) -> str:
    first = _clause(rng, 1 - label, negated=rng.random() < 0.3)
    second = _clause(rng, label, negated=rng.random() < 0.3)
    return f"{first} but {second}"


def _expected(rng: np.random.Generator, label: int) -> str:
    hoped = _pick(rng, NEGATIVE if label == POS else POSITIVE)
    got = _pick(rng, POSITIVE if label == POS else NEGATIVE)
    article = "an" if hoped[0] in "aeiou" else "a"
    return f"i expected {article} {hoped} {_pick(rng, _KINDS)} but it was {got}"


def _although(rng: np.random.Generator, label: int) -> str:
    conceded = _clause(rng, 1 - label, negated=rng.random() < 0.3)
    main = _clause(rng, label, negated=rng.random() < 0.3)
    # The deciding clause comes last after "although", first before "even though".
    if rng.random() < 0.5:
        return f"although {conceded} , {main}"
    return f"{main} , even though {conceded}"


def _and(rng: np.random.Generator, label: int) -> str:
    first = _clause(rng, label, negated=rng.random() < 0.3)
    second = _clause(rng, label, negated=rng.random() < 0.3)
    if rng.random() < 0.5:  # "... and the cast never boring"
        second = second.replace(" was ", " ", 1).replace(" were ", " ", 1)
    return f"{first} and {second}"


def _superlative(rng: np.random.Generator, label: int) -> str:
    negated = rng.random() < 0.5
    best = (label == POS) != negated
    opener = _pick(rng, ("it was", "this is", "easily"))
    not_ = "not " if negated else ""
    seen = _pick(rng, ("i have seen", "i have watched", "of the year", "in years"))
    which = "best" if best else "worst"
    return f"{opener} {not_}the {which} {_pick(rng, _KINDS)} {seen}"


def _verb(rng: np.random.Generator, label: int) -> str:
    if rng.random() < 0.3:
        if label == POS:
            return "i would recommend it"
        return f"i would {_pick(rng, ('not', 'never'))} recommend it"
    subject = _pick(rng, _SINGULAR)
    if rng.random() < 0.5:
        # Negation flips the verb: "i did not hate the plot" is positive.
        verbs = ("hate", "dislike") if label == POS else ("love", "enjoy", "like")
        return f"i did not {_pick(rng, verbs)} the {subject}"
    verbs = ("loved", "enjoyed", "liked", "admired") if label == POS else ("hated", "disliked")
    return f"i {_pick(rng, verbs)} the {subject}"


_TEMPLATES: tuple[tuple[Callable[[np.random.Generator, int], str], float], ...] = (
    (_plain, 0.40),
    (_negated, 0.18),
    (_but, 0.10),
    (_expected, 0.04),
    (_although, 0.08),
    (_and, 0.08),
    (_superlative, 0.06),
    (_verb, 0.06),
)


def make_review(rng: np.random.Generator, label: int) -> str:
    """One review with the given label (0 = neg, 1 = pos).

    Args:
        rng: the random generator, advanced by the draws.
        label: 0 (`neg`) or 1 (`pos`).

    Returns:
        The review: lowercase, space-separated tokens, punctuation split off.
    """
    weights = np.array([w for _, w in _TEMPLATES])
    template = _TEMPLATES[rng.choice(len(_TEMPLATES), p=weights / weights.sum())][0]
    text = template(rng, label)
    if rng.random() < 0.3:
        text = f"{_pick(rng, _PREFIXES)} {text}"
    text += _pick(rng, (" .", " .", " .", " !", ""))
    if rng.random() < 0.15:
        filler = _pick(rng, _FILLER)
        text = f"{filler} {text}" if rng.random() < 0.5 else f"{text} {filler}"
    return text


def generate_splits() -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Returns {split: [(key, example), ...]}, balanced and identical every call.

    Returns:
        Per split of `SPLIT_SIZES`, half `neg` and half `pos` unique reviews in shuffled
        order, keyed `<split>_<i>`: `text` and `label` (0 = neg, 1 = pos).
    """
    rng = np.random.default_rng(_SEED)
    per_class = {split: size // 2 for split, size in SPLIT_SIZES.items()}
    needed = sum(per_class.values())
    # Deduplicating before splitting keeps train and test disjoint.
    pools: dict[int, list[str]] = {NEG: [], POS: []}
    seen: set[str] = set()
    for label in (NEG, POS):
        while len(pools[label]) < needed:
            text = make_review(rng, label)
            if text not in seen:
                seen.add(text)
                pools[label].append(text)

    splits: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    start = 0
    for split, n in per_class.items():
        rows = [(text, label) for label in (NEG, POS) for text in pools[label][start : start + n]]
        order = rng.permutation(len(rows))
        splits[split] = [
            (f"{split}_{i}", {"text": rows[j][0], "label": rows[j][1]}) for i, j in enumerate(order)
        ]
        start += n
    return splits


class ZooReviews(GeneratedBuilder):
    """Templated sentiment reviews where word order matters: a small imdb_reviews."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            description=_DESCRIPTION,
            features=tfds.features.FeaturesDict(
                {
                    "text": tfds.features.Text(),
                    "label": tfds.features.ClassLabel(names=["neg", "pos"]),
                }
            ),
            supervised_keys=("text", "label"),
            homepage=None,
        )

    generate_splits = staticmethod(generate_splits)
