"""The runtime's Python preprocessing against the zoo's TensorFlow one (DESIGN.md,
"Preprocessing that runs anywhere"): generated Unicode text, token lists, SentencePiece
input and images of every mode, compared id for id (and pixel for pixel, within what the
float32 port of TensorFlow's resize can guarantee)."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from seqeval.metrics.sequence_labeling import get_entities

from zoo.data import images as tf_images
from zoo.data import subwords as tf_subwords
from zoo.data import text as tf_text
from zoo.tasks.many_to_many_equal import TaggerPreprocessing, casing
from zoo.tasks.many_to_one import TextClassificationPreprocessing
from zoo_runtime import images, readouts, subwords, text

#: text of every kind: any code point but surrogates (which no UTF-8 string holds), mixed
#: with what the rules treat specially
SPECIAL = [
    " ",
    "\t",
    "\n",
    "\v",
    "\f",
    "\r",
    "\u00a0",
    "\u3000",
    "\u2028",
    "\u200b",
    "\u00ad",
    "\ufeff",
    "<br />",
    "<br>",
    "<BR/>",
    "<br\t/>",
    ".",
    ",",
    "!",
    "?",
    ";",
    ":",
    "(",
    ")",
    '"',
    "'",
    "我",
    "ー",
    "。",
    "、",
    "ก",
    "ທ",
    "ក",
    "က",
    "Ça",
    "É",
    "A",
    "z",
    "0",
    "9",
    "\U0002a6df",
    "\U000116d0",
]
TEXTS = st.lists(
    st.one_of(
        st.text(st.characters(exclude_categories=["Cs"]), max_size=8), st.sampled_from(SPECIAL)
    ),
    max_size=30,
).map("".join)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def tf_tokens(texts: list[str], **options) -> list[list[str]]:
    """The zoo's tokens: `normalize`, then `tf.strings.split` as the lookups read them."""
    normalised = tf_text.normalize(tf.constant(texts), **options)
    return [[t.decode() for t in row] for row in tf.strings.split(normalised).to_list()]


@pytest.mark.parametrize("units", [text.WORDS, text.CHARACTERS])
@FAST
@given(texts=st.lists(TEXTS, min_size=1, max_size=6), lowercase=st.booleans())
def test_normalised_tokens_are_tensorflows(units: str, texts: list[str], lowercase: bool) -> None:
    assert [text.normalize(t, units=units, lowercase=lowercase) for t in texts] == tf_tokens(
        texts, units=units, lowercase=lowercase
    )


@pytest.mark.slow  # about 30 s: 1.1 million code points, twice
def test_every_code_point_is_cut_as_tensorflow_cuts_it() -> None:
    # each code point once, between letters and alone, in both units: the Unicode classes
    # of RE2 and of the `regex` package must not drift apart on any character
    points = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for units in (text.WORDS, text.CHARACTERS):
        wrong = []
        for i in range(0, len(points), 1 << 16):
            chunk = points[i : i + (1 << 16)]
            texts = [f"a{c}b {c}" for c in chunk]
            expected = tf_tokens(texts, units=units)
            wrong += [
                hex(ord(c))
                for c, t, e in zip(chunk, texts, expected, strict=True)
                if text.normalize(t, units=units) != e
            ]
        assert wrong == [], units


@FAST
@given(texts=st.lists(TEXTS, min_size=1, max_size=4), max_tokens=st.integers(1, 12))
def test_ids_and_limits_are_tensorflows(texts: list[str], max_tokens: int) -> None:
    vocabulary = ["the", "a", ".", "我", "ー", "<br", "/>", "[UNK]", "ça"]
    prep = TextClassificationPreprocessing(labels=["neg", "pos"], vocabulary=vocabulary)
    tokens = tf.strings.split(tf_text.normalize(tf.constant(texts), max_tokens=max_tokens))
    expected = prep.token_ids("vocabulary", tokens).to_list()
    lookup = text.lookup_of(vocabulary)
    assert [text.token_ids(text.normalize(t, max_tokens=max_tokens), lookup) for t in texts] == (
        expected
    )


def test_long_inputs_are_cut_where_tensorflow_cuts_them() -> None:
    # beyond the training cut and beyond MAX_INPUT_TOKENS, with breaks and punctuation
    long = ("word, <br />another. " * 900).strip()
    tokens = text.normalize(long)
    assert len(tokens) == 3600
    assert tokens[: text.MAX_INPUT_TOKENS] == tf_tokens([long], max_tokens=text.MAX_INPUT_TOKENS)[0]
    assert tf_text.beyond_input_limit(tf.constant([long])).numpy().tolist() == [True]
    assert text.MAX_INPUT_TOKENS == tf_text.MAX_INPUT_TOKENS == 2000


@FAST
@given(
    sentences=st.lists(TEXTS, min_size=1, max_size=4),
    units=st.sampled_from(["words", "characters"]),
)
def test_detokenising_is_tensorflows(sentences: list[str], units: str) -> None:
    joined = [" ".join(text.normalize(s, units=units)) for s in sentences]
    expected = tf_text.join_units(tf_text.attach_punctuation(tf.constant(joined)), units).numpy()
    assert [text.join_units(text.attach_punctuation(j), units) for j in joined] == [
        e.decode() for e in expected
    ]


TOKENS = st.lists(
    st.one_of(
        st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=25),
        st.sampled_from(["Paris", "NATO", "I", "paris", "McDonald", "1999", "U.S.", "É", "x\ny"]),
    ),
    min_size=1,
    max_size=8,
)


@FAST
@given(sentences=st.lists(TOKENS, min_size=1, max_size=3), lowercase=st.booleans())
def test_tagger_words_casing_and_characters_are_tensorflows(
    sentences: list[list[str]], lowercase: bool
) -> None:
    prep = TaggerPreprocessing(
        vocabulary=["paris", "Paris", "the", "x"],
        characters=list("aPrisx1É\n我"),
        max_word_length=6,
        tags=["O"],
        lowercase=lowercase,
    )
    longest = max(map(len, sentences))
    rows = [s + [""] * (longest - len(s)) for s in sentences]
    expected = {k: v.numpy() for k, v in prep.model_inputs(tf.constant(rows)).items()}
    words = text.lookup_of(prep.vocabulary)
    characters = text.lookup_of(prep.characters)
    for row, got_words, got_casing, got_chars in zip(
        rows, expected["words"], expected["casing"], expected["chars"], strict=True
    ):
        assert [text.casing(t) for t in row] == got_casing.tolist()
        assert text.token_ids([text.lower_ascii(t) if lowercase else t for t in row], words) == (
            got_words.tolist()
        )
        width = got_chars.shape[-1]
        assert width == min(max(len(t) for r in rows for t in r), prep.max_word_length)
        for token, ids in zip(row, got_chars, strict=True):
            mine = text.token_ids(list(token[:width]), characters)
            assert mine + [0] * (width - len(mine)) == ids.tolist()
    assert casing(tf.constant(["", "Paris"])).numpy().tolist() == [0, text.TITLE]


@pytest.fixture(scope="module")
def sentencepiece_model() -> str:
    corpus = [
        "Zwei junge Männer stehen draußen.",
        "Ein Hund läuft über die Wiese.",
        "Eine Frau mit rotem Hut liest ein Buch, 我爱北京.",
    ] * 20
    return tf_subwords.train(corpus, 60)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(texts=st.lists(TEXTS, min_size=1, max_size=4))
def test_sentencepiece_pieces_are_tensorflow_texts(
    sentencepiece_model: str, texts: list[str]
) -> None:
    cleaned = tf.strings.regex_replace(tf.constant(texts), text.ANY_CASE_BREAKS, " ")
    expected = tf_subwords.tokenize(tf_subwords.serialised(sentencepiece_model), cleaned)
    model = subwords.processor(sentencepiece_model)
    assert [subwords.pieces(model, text.without_breaks(t)) for t in texts] == [
        [p.decode() for p in row] for row in expected.to_list()
    ]
    joined = [" ".join(subwords.pieces(model, t)) for t in texts]
    assert [subwords.join_pieces(j) for j in joined] == [
        s.decode() for s in tf_subwords.join_pieces(tf.constant(joined)).numpy()
    ]


@FAST
@given(
    tags=st.lists(
        st.sampled_from(["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "I-MISC"]),
        max_size=12,
    )
)
def test_entities_are_seqevals(tags: list[str]) -> None:
    with warnings.catch_warnings():  # seqeval warns of ill-formed tags
        warnings.simplefilter("ignore")
        assert readouts.entities(tags) == get_entities(tags)


def test_viterbi_is_the_crf_layers() -> None:
    from zoo.models.custom_layers import LinearChainCRF

    rng = np.random.default_rng(0)
    layer = LinearChainCRF(5)
    layer.build((None, None, 3))
    for weight in (layer.transitions, layer.start_transitions, layer.end_transitions):
        weight.assign(rng.normal(size=weight.shape).astype("float32"))
    emissions = rng.normal(size=(6, 9, 5)).astype("float32")
    lengths = [1, 2, 9, 4, 7, 3]
    mask = np.arange(9)[None] < np.asarray(lengths)[:, None]
    expected = np.asarray(layer.decode(emissions, mask))
    for row, n, want in zip(emissions, lengths, expected, strict=True):
        got = readouts.viterbi(
            row[:n],
            np.asarray(layer.transitions),
            np.asarray(layer.start_transitions),
            np.asarray(layer.end_transitions),
        )
        assert got == want[:n].tolist()


# images ------------------------------------------------------------------------------------
def encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def tf_model_image(path, shape):
    return tf_images.to_model_image(path, shape)


SIZES = st.tuples(st.integers(1, 40), st.integers(1, 40))


def random_image(mode: str, size: tuple[int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    width, height = size
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 600, (height, width), dtype=np.uint16))
    if mode == "P":
        return Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).convert(
            "P", palette=Image.Palette.ADAPTIVE, colors=16
        )
    base = Image.fromarray(rng.integers(0, 256, (height, width, 4), dtype=np.uint8), "RGBA")
    return base.convert(mode)


#: (mode, file format) pairs TensorFlow's `decode_image` reads
CASES = [
    ("L", "PNG"),
    ("LA", "PNG"),
    ("P", "PNG"),
    ("RGB", "PNG"),
    ("RGBA", "PNG"),
    ("I;16", "PNG"),
    ("1", "PNG"),
    ("L", "JPEG"),
    ("RGB", "JPEG"),
    ("CMYK", "JPEG"),
    ("P", "GIF"),
    ("L", "GIF"),
    ("RGB", "BMP"),
    ("L", "BMP"),
    # not ("P", "BMP"): TensorFlow's BMP decoder reads an 8-bit palette image's indices as
    # grey levels; the runtime (Pillow) reads its colours
]
#: JPEG: TensorFlow's libjpeg decodes with the fast integer IDCT, Pillow with the accurate
#: one; measured at most 3 levels apart per decoded pixel, and after resizing
JPEG_LEVELS = 4


@pytest.mark.parametrize(("mode", "fmt"), CASES)
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    size=SIZES,
    seed=st.integers(0, 1000),
    shape=st.sampled_from([(8, 8, 1), (13, 29, 3), (28, 28, 1)]),
)
def test_images_of_every_mode_read_as_tensorflow_reads_them(
    mode: str, fmt: str, size, seed: int, shape, tmp_path_factory
) -> None:
    path = tmp_path_factory.mktemp("images") / f"image.{fmt.lower()}"
    path.write_bytes(encoded(random_image(mode, size, seed), fmt))
    expected = tf_model_image(path, shape)
    got = images.to_model_image(path, shape)
    assert got.shape == expected.shape == shape
    # PNG, GIF and BMP decode exactly, and the resize is bit-equal
    # (`test_resize_is_tensorflows_antialiased_resize`)
    levels = JPEG_LEVELS if fmt == "JPEG" else 0
    assert int(np.abs(got.astype(int) - expected.astype(int)).max()) <= levels, (mode, fmt, size)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    source=st.tuples(st.integers(1, 70), st.integers(1, 70), st.sampled_from([1, 3])),
    target=st.tuples(st.integers(1, 70), st.integers(1, 70)),
    seed=st.integers(0, 10_000),
)
def test_resize_is_tensorflows_antialiased_resize(source, target, seed) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, source, dtype=np.uint8)
    expected = tf.image.resize(pixels, target, antialias=True).numpy()
    got = images.resize(pixels, target)
    # the port repeats TensorFlow's float32 operations in its order: measured bit-equal on
    # 300 random sizes up to 200x200 (6.3 million values), and asserted so
    assert np.array_equal(got, expected)


def test_exif_orientation_turns_pixels_as_the_zoo_does(tmp_path) -> None:
    pixels = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    for orientation in range(1, 9):
        image = Image.fromarray(pixels)
        exif = image.getexif()
        exif[0x0112] = orientation
        path = tmp_path / f"o{orientation}.png"
        image.save(path, exif=exif)
        expected = tf_images.read_image_file(path).numpy()
        assert np.array_equal(images.read_image_file(path), expected), orientation


def test_arrays_follow_the_zoos_rules() -> None:
    rng = np.random.default_rng(1)
    for array in (
        rng.random((9, 7)),
        rng.random((9, 7, 3)) * 300,
        rng.integers(0, 255, (5, 5, 4), dtype=np.uint8),
        np.full((4, 4, 1), np.nan),
    ):
        for shape in ((8, 8, 1), (6, 10, 3)):
            expected = tf_images.to_model_image(array, shape)
            assert np.array_equal(images.to_model_image(array, shape), expected)
