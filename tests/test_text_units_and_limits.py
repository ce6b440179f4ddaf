"""Issue 15, items 8 and 10: languages written without spaces, and inputs or outputs cut at
a length limit.

Chinese target text became a vocabulary of whole sentences and scored BLEU 0.0 for a
one-character error (sacrebleu's `zh` tokenizer: 70.7); a 62-token German sentence lost its
last clause at the card's 50 tokens without a word.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import keras
import pytest
import tensorflow as tf
from sacrebleu.metrics import BLEU

import zoo
from zoo.data import text
from zoo.errors import ZooWarning
from zoo.models.seq2seq import bleu_tokenizer, corpus_bleu
from zoo.tasks.base import hyperparameters
from zoo_runtime.decoding import beam_search

SHIPPED = Path(__file__).resolve().parent.parent / "saved_models"
TINY = {"units": 8, "embedding_dim": 8}

# the example: one wrong character in eight
REFERENCE, ONE_CHARACTER_OFF = "我爱北京天安门广", "我爱北京天安们广"

PAIRS = [
    ("I love Beijing .", "我爱北京。"),
    ("I love Shanghai .", "我爱上海。"),
    ("he loves Beijing .", "他爱北京。"),
    ("she loves Shanghai .", "她爱上海。"),
    ("we love tea .", "我们爱茶。"),
    ("they love tea .", "他们爱茶。"),
] * 4


def _chinese_task(
    tmp_path: Path, units_kind: str = text.WORDS
) -> tuple[zoo.Task, zoo.data.spec.DatasetSpec]:
    """English -> Chinese parallel text, as a user's TSV, fitted by the translation task in
    `units_kind` (`words`, as models before subwords were, or `subwords`)."""
    folder = tmp_path / "en-zh"
    folder.mkdir()
    rows = "".join(f"{en}\t{zh}\n" for en, zh in PAIRS)
    (folder / "train.tsv").write_text(rows, encoding="utf-8")
    (folder / "validation.tsv").write_text(rows[: rows.index("\n") + 1], encoding="utf-8")
    spec = zoo.prepare(folder, "parallel", source="en", target="zh")
    task = zoo.get_task("many-to-many-unequal")()
    task.adapt(
        task.load(spec, "train"),
        spec,
        hyperparameters({"units_kind": units_kind, "subword_vocabulary": 40}),
    )
    return task, spec


# --- item 8: languages without spaces ------------------------------------------------------------


def test_unspaced_scripts_are_cut_into_characters_and_joined_back() -> None:
    mixed = tf.constant("我爱Paris，ภาษาไทย and カタカナー!")
    cut = text.normalize(mixed, units=text.CHARACTERS).numpy().decode()
    assert cut == "我 爱 paris ， ภ า ษ า ไ ท ย and カ タ カ ナ ー !"
    assert text.normalize(mixed).numpy().decode() == "我爱paris，ภาษาไทย and カタカナー !"
    assert text.join_units(tf.constant(cut), text.CHARACTERS).numpy().decode() == (
        "我爱 paris，ภาษาไทย and カタカナー !"
    )
    assert text.join_units(tf.constant("a b"), text.WORDS).numpy().decode() == "a b"


@pytest.mark.parametrize(
    ("sentences", "writing"),
    [
        (["我爱北京。", "他们爱茶。"], text.CHINESE),
        (["私は東京が好きです。", "カタカナを読む"], text.JAPANESE),
        (["ฉันรักกรุงเทพ", "ภาษาไทย"], text.OTHER_UNSPACED),
        (["a man reads .", "two dogs play in Beijing (北京) ."], text.SPACED),
    ],
)
def test_the_writing_system_is_told_by_script(sentences: list[str], writing: str) -> None:
    assert text.writing_of(tf.data.Dataset.from_tensor_slices(sentences)) == writing


def test_bleu_of_a_one_character_error_in_chinese_is_sacrebleus_zh_score() -> None:
    zh = bleu_tokenizer("zh", text.CHINESE)
    assert zh == "zh"
    score = corpus_bleu([ONE_CHARACTER_OFF], [[REFERENCE]], tokenize=zh)
    assert score == pytest.approx(70.7107, abs=1e-4)
    assert score == BLEU(tokenize="zh").corpus_score([ONE_CHARACTER_OFF], [[REFERENCE]]).score
    assert corpus_bleu([ONE_CHARACTER_OFF], [[REFERENCE]]) == 0.0  # what 13a gave


def test_the_bleu_tokenizer_follows_the_language_code_then_the_script() -> None:
    assert bleu_tokenizer("zh-Hans", text.SPACED) == "zh"
    assert bleu_tokenizer("target", text.CHINESE) == "zh"  # no code: the script decides
    assert bleu_tokenizer("en", text.SPACED) == "13a"
    assert bleu_tokenizer("th", text.SPACED) == "char"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        japanese = bleu_tokenizer("ja", text.JAPANESE)
    try:
        BLEU(tokenize="ja-mecab")
        assert japanese == "ja-mecab"
    except RuntimeError:  # MeCab not installed: per character, and the zoo says so
        assert japanese == "char"
        assert any(issubclass(w.category, ZooWarning) for w in caught)


@pytest.mark.slow
def test_chinese_targets_train_on_characters_and_score_with_the_zh_tokenizer(
    tmp_path: Path, monkeypatch
) -> None:
    task, spec = _chinese_task(tmp_path)
    prep = task.preprocessing
    assert (prep.source_units, prep.target_units) == (text.WORDS, text.CHARACTERS)
    assert prep.bleu_tokenize == "zh"
    targets = [t for t in prep.target_vocabulary if t not in (text.START, text.END)]
    assert set(targets) == set("我爱北京上海他她们茶。")  # one unit per character
    assert "love" in prep.source_vocabulary  # English stays in words

    model = task.build_model(hyperparameters(TINY))
    model.train_on_batch(*next(iter(task.batches(task.load(spec, "train"), 8, training=True))))
    # output is written without spaces between Chinese characters
    assert task.detokenize(tf.constant("我 爱 北 京 。")).numpy().decode() == "我爱北京。"

    # evaluate scores with the recorded tokenizer: the one-character error is 70.7
    monkeypatch.setattr(task, "references", lambda raw: (["x"], [[REFERENCE]]))
    monkeypatch.setattr(
        task, "generate", lambda *a, **k: ([ONE_CHARACTER_OFF], [False], [list(ONE_CHARACTER_OFF)])
    )
    metrics = task.evaluate(model, task.load(spec, "validation"), quick=True)
    assert metrics["bleu"] == pytest.approx(70.7107, abs=1e-4)


def test_subwords_of_chinese_join_without_spaces_and_score_with_zh(tmp_path: Path) -> None:
    task, _ = _chinese_task(tmp_path, text.SUBWORDS)
    prep = task.preprocessing
    assert (prep.source_units, prep.target_units, prep.bleu_tokenize) == (
        text.SUBWORDS,
        text.SUBWORDS,
        "zh",
    )
    for _, chinese in PAIRS[:6]:
        pieces = prep.normalize(tf.constant(chinese), "target").numpy().decode()
        assert task.detokenize(tf.constant(pieces)).numpy().decode() == chinese


def test_english_keeps_words_and_13a(tmp_path: Path) -> None:
    task = zoo.get_task("many-to-many-unequal")()
    spec = task.dataset("embedded")
    task.adapt(task.load(spec, "train"), spec, hyperparameters({"units_kind": text.WORDS}))
    prep = task.preprocessing
    assert (prep.source_units, prep.target_units, prep.bleu_tokenize) == (
        text.WORDS,
        text.WORDS,
        "13a",
    )
    # a model saved before these fields existed reads as words and 13a
    saved = json.loads(
        (SHIPPED / "translation-multi30k-de-en-lstm/2/preprocessing.json").read_text()
    )
    assert "target_units" not in saved
    old = type(prep).from_json(saved)
    assert (old.target_units, old.bleu_tokenize) == (text.WORDS, "13a")


# --- item 10: inputs and outputs cut at a length limit --------------------------------------------

GERMAN_62 = (
    "Ein Mann in einem blauen Hemd steht auf einer Leiter und putzt die Fenster eines Hauses , "
    "während eine Frau mit einem roten Hut und ein kleiner Junge im Garten zuschauen , und "
    "ein anderer Mann repariert auf der Straße ein Fahrrad , während zwei Hunde neben ihm "
    "schlafen und eine kleine schwarze Katze oben auf dem alten roten Dach sitzt ."
)


@pytest.fixture(scope="module")
def shipped_translation():
    # version 2 reads words (v3 reads subwords): the token counts below are of words
    return zoo.load("translation-multi30k-de-en-lstm@2", root=SHIPPED)


def test_a_62_token_sentence_is_translated_whole(shipped_translation) -> None:
    task = shipped_translation.task
    tokens = text.normalize(tf.constant(GERMAN_62)).numpy().decode().split()
    assert len(tokens) == 62 > task.preprocessing.max_tokens
    # the encoder reads every token (it read 50)
    assert task.encoder_inputs([GERMAN_62]).shape == (1, 62)
    whole = shipped_translation.predict(GERMAN_62)
    first_50 = shipped_translation.predict(" ".join(tokens[:50]))
    assert whole["translation"] != first_50["translation"]
    assert "truncated" not in whole


def test_each_row_stops_at_its_own_bound() -> None:
    def loop(tokens, states, rows):  # never emits [end] (id 1)
        return tf.math.log(tf.tile([[1e-9, 1e-9, 1.0, 1e-9]], [len(tokens), 1])), [
            keras.ops.take(s, rows, axis=0) for s in states
        ]

    out = beam_search(
        loop, [keras.ops.zeros((2, 1))], start_id=0, end_id=1, max_length=[2, 4], beam_width=2
    )
    assert out == [[2, 2], [2, 2, 2, 2]]


@pytest.fixture(scope="module")
def untrained_translation():
    task = zoo.get_task("many-to-many-unequal")()
    spec = task.dataset("embedded")
    task.adapt(task.load(spec, "train"), spec)
    model = task.build_model(hyperparameters(TINY))
    logits = model.get_layer("decoder").get_layer("logits")
    kernel, bias = logits.get_weights()
    bias[2 + 2] = 100.0  # the first word after [start] and [end], always: never [end]
    logits.set_weights([kernel, bias])
    return task, model


def test_a_hostile_long_input_is_cut_bounded_and_flagged(untrained_translation) -> None:
    task, model = untrained_translation
    hostile = "very long review " * 4000  # 12,000 tokens
    assert task.encoder_inputs([hostile]).shape == (1, text.MAX_INPUT_TOKENS)
    with pytest.warns(ZooWarning, match="cut at a length limit"):
        (result,) = task.predict(model, [hostile])
    assert result["truncated"] is True
    cap = task.max_output_factor * task.preprocessing.max_tokens + 1  # room for [end]
    assert len(result["translation"].split()) == cap  # decoding stopped at its hard bound
    served = task.serving_function(model)(tf.constant([hostile, "um dois"]))
    assert served["truncated"].numpy().tolist() == [True, True]


def test_an_output_that_never_ends_is_flagged_and_bounded_by_its_input(
    untrained_translation,
) -> None:
    task, model = untrained_translation
    # 70 tokens, 20 beyond the trained 50: the bound is 50 + 2 x 20 + 1 = 91 tokens
    source = " ".join(["um"] * 70)
    with pytest.warns(ZooWarning):
        greedy, beam = (task.predict(model, [source], beam_width=w)[0] for w in (1, 4))
    for result in (greedy, beam):
        assert result["truncated"] is True
        assert len(result["translation"].split()) == 91
    # within the trained length, the trained bound (max_tokens + 1) as before
    with pytest.warns(ZooWarning):
        (short,) = task.predict(model, [" ".join(["um"] * 40)], beam_width=1)
    assert len(short["translation"].split()) == 51


def test_a_caption_that_never_ends_is_flagged() -> None:
    task = zoo.get_task("one-to-many")()
    spec = task.dataset("embedded")
    task.adapt(task.load(spec, "train"), spec)
    model = task.build_model(hyperparameters({"units": 8, "cnn_filters": 16, "cnn_blocks": 2}))
    logits = model.get_layer("decoder").get_layer("logits")
    kernel, bias = logits.get_weights()
    bias[2 + 2] = 100.0  # the first word after [start] and [end], always: never [end]
    logits.set_weights([kernel, bias])
    image = next(task.load(spec, "test").as_numpy_iterator())["image"]
    with pytest.warns(ZooWarning, match="caption stops at 25 tokens"):
        (result,) = task.predict(model, [image], beam_width=1)
    assert result["truncated"] is True and len(result["caption"].split()) == 25
    served = task.serving_function(model)(tf.constant(image[None]))
    assert served["truncated"].numpy().tolist() == [True]


def test_sentiment_reads_past_its_training_length_and_flags_a_cut() -> None:
    task = zoo.get_task("many-to-one")()
    spec = task.dataset("embedded")
    task.adapt(task.load(spec, "train"), spec)
    model = task.build_model(hyperparameters({"units": 8, "embedding_dim": 8}))
    longer = "good " * 400  # over the 300 training tokens, under the input limit
    assert task.preprocessing.model_inputs(tf.constant([longer])).shape == (1, 400)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ZooWarning)  # nothing cut: no warning
        assert "truncated" not in task.predict(model, [longer])[0]
    with pytest.warns(ZooWarning, match="longer than 2000 tokens"):
        result = task.predict(model, ["good " * 2500])[0]
    assert result["truncated"] is True
    served = task.serving_function(model)(tf.constant(["good " * 2500, longer]))
    assert served["truncated"].numpy().tolist() == [True, False]


def test_the_command_line_prints_the_warning(capsys) -> None:
    from zoo.cli import main

    argv = ["predict", "translation-multi30k-de-en-lstm", "ein Hund " * 1500]
    assert main([*argv, "--registry", str(SHIPPED)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out.splitlines()[-1])["output"]["truncated"] is True
    assert "zoo: warning: 1 of 1 inputs (number 1) were cut at a length limit" in err
