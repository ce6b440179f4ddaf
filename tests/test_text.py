from __future__ import annotations

import json
from pathlib import Path

import pytest
import tensorflow as tf

import zoo
from zoo.data import text
from zoo.errors import BadInputError
from zoo.tasks.many_to_one import TextClassificationPreprocessing
from zoo_runtime import visible


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


# --- input that normalises to nothing (issue 28, item 2) --------------------------------------

SHIPPED = str(Path(__file__).resolve().parent.parent / "saved_models")
INVISIBLE = ["\u200b", "\u200c", "\ufeff", "\u200d", "\u00ad", "\u2060", "\u200b \u200c\n\ufeff"]


@pytest.mark.parametrize("invisible", INVISIBLE)
def test_invisible_characters_normalise_to_nothing_and_are_refused(invisible: str) -> None:
    assert text.normalize(tf.constant(invisible)).numpy() == b""
    assert visible.is_blank(invisible)
    with pytest.raises(BadInputError, match="no words once normalised"):
        text.require_words(["a fine film", invisible])


def test_tensorflow_and_python_remove_the_same_characters() -> None:
    sample = "".join(chr(c) for c in range(0x20, 0x3000) if not chr(c).isspace())
    removed_tf = text.normalize(tf.constant(sample), lowercase=False).numpy().decode()
    assert removed_tf.replace(" ", "") == visible.visible(sample).replace(" ", "")


@pytest.mark.parametrize(
    "name", ["sentiment-mr-lstm", "translation-multi30k-de-en-lstm", "ner-conll2003-lstm"]
)
def test_every_text_model_refuses_an_invisible_input_alone(name: str) -> None:
    model = zoo.load(name, root=SHIPPED)
    with pytest.raises(BadInputError):
        model.predict("\u200b\u200c")


def test_a_zero_width_line_of_a_file_is_skipped_and_counted(tmp_path, capsys) -> None:
    from zoo.cli import main

    (tmp_path / "in.txt").write_text("Ein Hund .\n\u200b\u200c\n\u2060\n")
    assert (
        main(
            [
                "predict",
                "translation-multi30k-de-en-lstm",
                "--input",
                str(tmp_path / "in.txt"),
                "--registry",
                SHIPPED,
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert [json.loads(line)["line"] for line in captured.out.splitlines()] == [1]
    assert "skipped 2 blank input(s)" in captured.err and "line 2, 3" in captured.err


def test_a_tagger_drops_a_stray_zero_width_word_and_refuses_an_invisible_token() -> None:
    model = zoo.load("ner-conll2003-lstm", root=SHIPPED)
    tagged = model.predict("Angela Merkel \u200b visited Berlin .")
    assert [t for t, _ in tagged["tags"]] == ["Angela", "Merkel", "visited", "Berlin", "."]
    with pytest.raises(BadInputError):
        model.predict(["Berlin", "\u200b"])
