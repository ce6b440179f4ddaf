"""Tests for the embedded (offline) TFDS builders in zoo.data.builders.

The DatasetBuilderTestCase classes run TFDS's own harness: generation, feature
specs, reloading and no identical examples across splits, on the first examples of
each split by default and on every example (with the split sizes) in the slow runs. The
plain pytest functions check what the harness cannot: determinism and that
labels mean what the docstrings promise.
"""

import functools
import re
from typing import Any

import numpy as np
import pytest
import tensorflow_datasets as tfds

import zoo.data.builders  # noqa: F401  (registers the builders)
from zoo.data.builders.zoo_digits import zoo_digits
from zoo.data.builders.zoo_ner import zoo_ner
from zoo.data.builders.zoo_numbers_translate import zoo_numbers_translate
from zoo.data.builders.zoo_reviews import zoo_reviews
from zoo.data.builders.zoo_shapes_captions import zoo_shapes_captions

# --- TFDS harness -----------------------------------------------------------
# On the first examples of each split (fast); the full-size runs below are marked slow.

FIRST = 5


@pytest.mark.usefixtures("first_examples_only")
class ZooDigitsTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = zoo_digits.ZooDigits
    FIRST_EXAMPLES = FIRST
    SPLITS = dict.fromkeys(["train", "test"], FIRST)
    SKIP_CHECKSUMS = True


@pytest.mark.usefixtures("first_examples_only")
class ZooShapesCaptionsTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = zoo_shapes_captions.ZooShapesCaptions
    FIRST_EXAMPLES = FIRST
    SPLITS = dict.fromkeys(["train", "validation", "test"], FIRST)
    SKIP_CHECKSUMS = True


@pytest.mark.usefixtures("first_examples_only")
class ZooReviewsTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = zoo_reviews.ZooReviews
    FIRST_EXAMPLES = FIRST
    SPLITS = dict.fromkeys(["train", "test"], FIRST)
    SKIP_CHECKSUMS = True


@pytest.mark.usefixtures("first_examples_only")
class ZooNerTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = zoo_ner.ZooNer
    FIRST_EXAMPLES = FIRST
    SPLITS = dict.fromkeys(["train", "validation", "test"], FIRST)
    SKIP_CHECKSUMS = True


@pytest.mark.usefixtures("first_examples_only")
class ZooNumbersTranslateTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = zoo_numbers_translate.ZooNumbersTranslate
    FIRST_EXAMPLES = FIRST
    SPLITS = dict.fromkeys(["train", "validation", "test"], FIRST)
    SKIP_CHECKSUMS = True


# every example: the published split sizes, and no example in two splits
@pytest.mark.slow
class ZooDigitsFullTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = zoo_digits.ZooDigits
    SPLITS = {"train": 1437, "test": 360}
    SKIP_CHECKSUMS = True


@pytest.mark.slow
class ZooShapesCaptionsFullTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = zoo_shapes_captions.ZooShapesCaptions
    SPLITS = {"train": 2000, "validation": 300, "test": 300}
    SKIP_CHECKSUMS = True


@pytest.mark.slow
class ZooReviewsFullTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = zoo_reviews.ZooReviews
    SPLITS = {"train": 4000, "test": 1000}
    SKIP_CHECKSUMS = True


@pytest.mark.slow
class ZooNerFullTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = zoo_ner.ZooNer
    SPLITS = {"train": 3000, "validation": 500, "test": 500}
    SKIP_CHECKSUMS = True


@pytest.mark.slow
class ZooNumbersTranslateFullTest(tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = zoo_numbers_translate.ZooNumbersTranslate
    SPLITS = {"train": 6000, "validation": 500, "test": 500}
    SKIP_CHECKSUMS = True


# --- determinism ------------------------------------------------------------

_MODULES = {
    "zoo_digits": zoo_digits,
    "zoo_shapes_captions": zoo_shapes_captions,
    "zoo_reviews": zoo_reviews,
    "zoo_ner": zoo_ner,
    "zoo_numbers_translate": zoo_numbers_translate,
}


@functools.cache
def _splits(name: str) -> dict[str, list[tuple[Any, dict[str, Any]]]]:
    return _MODULES[name].generate_splits()


def _examples(name: str, split: str) -> list[dict[str, Any]]:
    return [example for _, example in _splits(name)[split]]


def _assert_equal(a: Any, b: Any) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_equal(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=False):
            _assert_equal(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    else:
        assert a == b


@pytest.mark.parametrize("name", sorted(_MODULES))
def test_generation_is_deterministic(name: str) -> None:
    _assert_equal(_splits(name), _MODULES[name].generate_splits())


@pytest.mark.parametrize("name", sorted(_MODULES))
def test_keys_unique(name: str) -> None:
    keys = [key for rows in _splits(name).values() for key, _ in rows]
    assert len(keys) == len(set(keys))


def test_builders_registered_by_name() -> None:
    registered = set(tfds.list_builders(with_community_datasets=False))
    assert set(_MODULES) <= registered


# --- zoo_digits -------------------------------------------------------------


def test_digits_test_split_has_every_class_in_proportion() -> None:
    def counts(split: str) -> np.ndarray:
        labels = [e["label"] for e in _examples("zoo_digits", split)]
        return np.bincount(labels, minlength=10)

    train, test = counts("train"), counts("test")
    assert (test > 0).all()
    np.testing.assert_allclose(test / test.sum(), train / train.sum(), atol=0.01)


def test_digits_images_are_scaled_uint8() -> None:
    images = np.stack([e["image"] for e in _examples("zoo_digits", "train")])
    assert images.shape[1:] == (8, 8, 1) and images.dtype == np.uint8
    assert images.max() == 255 and images.min() == 0


# --- zoo_shapes_captions ----------------------------------------------------


def test_shapes_three_clean_captions_per_image() -> None:
    for split in ("train", "validation", "test"):
        for example in _examples("zoo_shapes_captions", split):
            captions = example["captions"]["text"]
            assert len(captions) == 3
            for caption in captions:
                assert re.fullmatch(r"[a-z]+( [a-z]+)*", caption), caption
            assert example["image"].shape == (32, 32, 3)


def test_shapes_images_unique_across_splits() -> None:
    images = [
        e["image"].tobytes()
        for split in ("train", "validation", "test")
        for e in _examples("zoo_shapes_captions", split)
    ]
    assert len(images) == len(set(images))


def test_shapes_captions_name_the_drawn_scene() -> None:
    scene = [("circle", "red", "large", "left")]
    captions_for = zoo_shapes_captions.captions_for
    assert captions_for(scene)[0] == "a large red circle on the left"
    pair = [("circle", "red", "small", "left"), ("square", "blue", "large", "right")]
    assert captions_for(pair)[0] == "a red circle left of a blue square"
    # Red pixels must be where the caption says: left half for this scene.
    image = zoo_shapes_captions.render(scene, np.random.default_rng(0)).astype(int)
    red = (image[..., 0] > 150) & (image[..., 1] < 100) & (image[..., 2] < 100)
    assert red[:, :16].sum() > 50 and red[:, 16:].sum() < 5


# --- zoo_reviews ------------------------------------------------------------


@pytest.mark.parametrize("split", ["train", "test"])
def test_reviews_balanced(split: str) -> None:
    labels = [e["label"] for e in _examples("zoo_reviews", split)]
    assert abs(np.mean(labels) - 0.5) <= 0.02


def test_reviews_need_word_order() -> None:
    train = _examples("zoo_reviews", "train")
    markers = zoo_reviews.NEGATION_OR_CONTRAST
    hard = [bool(set(e["text"].split()) & markers) for e in train]
    assert np.mean(hard) >= 0.3
    for example in train:
        assert example["text"] == example["text"].lower()
        assert "  " not in example["text"]

    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    test = _examples("zoo_reviews", "test")
    vectorizer = CountVectorizer(token_pattern=r"\S+")
    x_train = vectorizer.fit_transform([e["text"] for e in train])
    model = LogisticRegression(max_iter=2000).fit(x_train, [e["label"] for e in train])
    accuracy = model.score(
        vectorizer.transform([e["text"] for e in test]), [e["label"] for e in test]
    )
    assert accuracy < 0.9  # a unigram bag of words must not solve it


def test_reviews_label_follows_negation_and_contrast() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        text = zoo_reviews._negated(rng, zoo_reviews.POS)
        words = text.split()
        adjective = words[-3] if text.endswith(" at all") else words[-1]
        assert adjective in zoo_reviews.NEGATIVE, text
        text = zoo_reviews._expected(rng, zoo_reviews.NEG)
        assert text.split()[-1] in zoo_reviews.NEGATIVE, text


# --- zoo_ner ----------------------------------------------------------------


def test_ner_tag_names_match_conll2003() -> None:
    from tensorflow_datasets.core.dataset_builders.conll import (
        conll_dataset_builder_utils as conll_lib,
    )

    assert tuple(conll_lib.NER_TAGS) == zoo_ner.NER_TAGS


def test_ner_tags_aligned_and_valid_iob2() -> None:
    for split in ("train", "validation", "test"):
        for example in _examples("zoo_ner", split):
            tokens, tags = example["tokens"], example["ner"]
            assert len(tokens) == len(tags) > 0
            for previous, tag in zip(["O"] + tags, tags, strict=False):
                assert tag in zoo_ner.NER_TAGS
                if tag.startswith("I-"):
                    assert previous[2:] == tag[2:], (tokens, tags)


def test_ner_entity_types_and_ambiguity() -> None:
    train = _examples("zoo_ner", "train")
    tags = {tag for e in train for tag in e["ner"]}
    assert {f"B-{t}" for t in ("PER", "ORG", "LOC", "MISC")} <= tags
    jordan = {
        tag[2:]
        for e in train
        for token, tag in zip(e["tokens"], e["ner"], strict=True)
        if token == "Jordan"
    }
    assert {"PER", "LOC"} <= jordan


def test_ner_sentences_unique_across_splits() -> None:
    sentences = [
        tuple(e["tokens"])
        for split in ("train", "validation", "test")
        for e in _examples("zoo_ner", split)
    ]
    assert len(sentences) == len(set(sentences))


# --- zoo_numbers_translate --------------------------------------------------

_HAND_CHECKED = {
    0: ("zero", "zero"),
    1: ("um", "one"),
    10: ("dez", "ten"),
    16: ("dezesseis", "sixteen"),
    21: ("vinte e um", "twenty one"),
    100: ("cem", "one hundred"),
    101: ("cento e um", "one hundred one"),
    200: ("duzentos", "two hundred"),
    1000: ("mil", "one thousand"),
    1001: ("mil e um", "one thousand one"),
    1100: ("mil e cem", "one thousand one hundred"),
    2030: ("dois mil e trinta", "two thousand thirty"),
    1234: ("mil duzentos e trinta e quatro", "one thousand two hundred thirty four"),
    21000: ("vinte e um mil", "twenty one thousand"),
    99999: (
        "noventa e nove mil novecentos e noventa e nove",
        "ninety nine thousand nine hundred ninety nine",
    ),
}


@pytest.mark.parametrize("number", sorted(_HAND_CHECKED))
def test_number_words(number: int) -> None:
    pt, en = _HAND_CHECKED[number]
    assert zoo_numbers_translate.pt_words(number) == pt
    assert zoo_numbers_translate.en_words(number) == en


def test_number_words_are_unambiguous() -> None:
    numbers = range(zoo_numbers_translate.MAX_NUMBER + 1)
    assert len({zoo_numbers_translate.pt_words(n) for n in numbers}) == len(numbers)
    assert len({zoo_numbers_translate.en_words(n) for n in numbers}) == len(numbers)


def test_translation_pairs_have_unequal_lengths() -> None:
    train = _examples("zoo_numbers_translate", "train")
    for example in train:
        assert " and " not in example["en"] and "-" not in example["en"]
    differ = [len(e["pt"].split()) != len(e["en"].split()) for e in train]
    assert np.mean(differ) > 0.5
