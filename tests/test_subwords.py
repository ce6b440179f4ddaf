"""Issue 19, item 3: translation cuts both sides into subword units (SentencePiece) learnt on
the training split, so a word never seen in training is no longer `[UNK]`; the model
file, its preprocessing and its exported signature carry the units with them. Models of
word units, as shipped before, still load and translate as their cards say."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo import registry
from zoo.data import subwords, text
from zoo.data.preprocessing import UNK_ID
from zoo.models.custom_layers import SmoothedSparseCrossentropy
from zoo.registry.export import export
from zoo.tasks.base import hyperparameters
from zoo.training.fit import finish

SHIPPED = Path(__file__).resolve().parent.parent / "saved_models"
TINY = {"units": 8, "embedding_dim": 8}

#: German -> English pairs: enough text for SentencePiece to learn pieces of both sides
PAIRS = [
    ("Ein Hund läuft über die Wiese.", "A dog runs across the meadow."),
    ("Zwei Hunde spielen im Schnee.", "Two dogs play in the snow."),
    ("Eine Frau liest ein Buch im Park.", "A woman reads a book in the park."),
    ("Ein Mann fährt Fahrrad auf der Straße.", "A man rides a bike on the street."),
    ("Kinder spielen Fußball im Garten.", "Children play football in the garden."),
    ("Ein Junge springt in den Schwimmbadpool.", "A boy jumps into the swimming pool."),
    ("Die Frau trägt einen roten Hut.", "The woman wears a red hat."),
    ("Ein Mädchen isst einen großen Apfel.", "A girl eats a big apple."),
    ("Drei Männer stehen vor einem Haus.", "Three men stand in front of a house."),
    ("Ein Hund schwimmt im See.", "A dog swims in the lake."),
] * 3


@pytest.fixture(scope="module")
def parallel(tmp_path_factory: pytest.TempPathFactory) -> zoo.data.spec.DatasetSpec:
    """The pairs as a user's TSV files (train, validation, test)."""
    folder = tmp_path_factory.mktemp("de-en")
    rows = "".join(f"{de}\t{en}\n" for de, en in PAIRS)
    for split in ("train", "validation", "test"):
        (folder / f"{split}.tsv").write_text(rows, encoding="utf-8")
    return zoo.prepare(folder, "parallel", source="de", target="en")


def _fitted(spec, **values) -> zoo.Task:
    task = zoo.get_task("many-to-many-unequal")()
    task.adapt(
        task.load(spec, "train"), spec, hyperparameters({"subword_vocabulary": 200, **values})
    )
    return task


@pytest.fixture(scope="module")
def task(parallel) -> zoo.Task:
    return _fitted(parallel)


def _round_trip(task: zoo.Task, sentence: str, side: str) -> tuple[list[int], str]:
    """A sentence -> ids of its side's vocabulary -> text, as the decoder's output reads."""
    prep = task.preprocessing
    pieces = tf.strings.split(prep.normalize(tf.constant(sentence), side))
    ids = prep.token_ids(f"{side}_vocabulary", pieces).numpy().tolist()
    tokens = text.ids_to_tokens(ids, getattr(prep, f"{side}_vocabulary"))
    return ids, task.detokenize(tf.constant(" ".join(tokens))).numpy().decode()


def test_subwords_are_the_default_and_both_sides_use_them(task) -> None:
    prep = task.preprocessing
    assert (prep.source_units, prep.target_units) == (text.SUBWORDS, text.SUBWORDS)
    assert prep.source_subwords and prep.target_subwords
    assert prep.target_vocabulary[:2] == [text.START, text.END]
    # the vocabulary is the model's pieces, so every piece it emits has an id
    assert prep.source_vocabulary == subwords.pieces(prep.source_subwords)
    # the card shows the models by size and hash, not their content
    summary = prep.summary()
    assert set(summary["source_subwords"]) == {"chars", "sha256"}


@pytest.mark.parametrize("side", ["source", "target"])
def test_training_text_round_trips_exactly(task, side: str) -> None:
    for de, en in PAIRS[:10]:
        sentence = de if side == "source" else en
        ids, back = _round_trip(task, sentence, side)
        assert UNK_ID not in ids
        assert back == sentence  # case, punctuation and spacing as written


def test_a_word_never_seen_in_training_reads_as_pieces_not_unknown(task) -> None:
    # neither word occurs in the training text; their letters do
    for sentence, side in (("Ein Schneehundmann", "source"), ("the snowdogman", "target")):
        ids, back = _round_trip(task, sentence, side)
        assert UNK_ID not in ids
        assert len(ids) > len(sentence.split())  # cut into known pieces
        assert back == sentence


def test_words_stay_available_for_models_of_word_units(parallel) -> None:
    words = _fitted(parallel, units_kind="words").preprocessing
    assert (words.source_units, words.target_units) == (text.WORDS, text.WORDS)
    assert words.source_subwords == "" and "hund" in words.source_vocabulary
    # a preprocessing saved before subwords existed reads as words, and so does its retraining
    saved = json.loads(
        (SHIPPED / "translation-multi30k-de-en-lstm/2/preprocessing.json").read_text()
    )
    old = type(words).from_json(saved)
    assert (old.source_units, old.source_subwords) == (text.WORDS, "")
    assert old.fitting_options() == {"units_kind": text.WORDS}


def test_fine_tuning_keeps_the_parents_pieces(task, parallel) -> None:
    new = _fitted(parallel, subword_vocabulary=150).preprocessing
    merged, changes = task.preprocessing.merged_with(new)
    assert merged.source_subwords == task.preprocessing.source_subwords
    assert merged.source_vocabulary == task.preprocessing.source_vocabulary
    assert changes["vocabulary_added"] == {"source_vocabulary": 0, "target_vocabulary": 0}


@pytest.mark.slow
def test_saved_model_reproduces_and_its_export_serves_the_same(
    task, parallel, tmp_path: Path
) -> None:
    keras.utils.set_random_seed(0)
    hp = hyperparameters({**TINY, "subword_vocabulary": 200})
    model = task.build_model(hp)
    train = task.load(parallel, "train")
    batch = next(task.batches(train, 8, training=True).as_numpy_iterator())
    logs = model.train_on_batch(*batch, return_dict=True)
    result = finish(
        task,
        model,
        parallel,
        hp=dict(hp.values),
        seed=0,
        epochs=1,
        batch_size=8,
        history={k: [float(v)] for k, v in logs.items()},
        seconds=0.0,
    )
    path = registry.save(result, "subwords", root=tmp_path)
    # the SentencePiece models travel inside preprocessing.json, hashed on the card
    card = json.loads((path / "card.json").read_text())
    assert "preprocessing.json" in card["files"]
    loaded = registry.load("subwords", root=tmp_path)  # re-checks the reference outputs
    sources = [de for de, _ in PAIRS[:3]] + ["Ein Schneehundmann"]
    expected = task.predict(model, sources, beam_width=1)
    assert loaded.task.predict(loaded.model, sources, beam_width=1) == expected

    served = tf.saved_model.load(str(export(loaded, tmp_path / "export") / "savedmodel"))
    outputs = served.signatures["serving_default"](tf.constant(sources))
    assert [t.decode() for t in outputs["translation"].numpy()] == [
        e["translation"] for e in expected
    ]


def test_label_smoothing_spreads_mass_over_the_vocabulary() -> None:
    probs = np.array([[[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]], dtype="float32")
    ids = np.array([[0, 2]])
    plain = keras.losses.SparseCategoricalCrossentropy(reduction=None)(ids, probs)
    none = SmoothedSparseCrossentropy(0.0, reduction=None)(ids, probs)
    np.testing.assert_allclose(np.asarray(none), np.asarray(plain), rtol=1e-5)
    smoothed = np.asarray(SmoothedSparseCrossentropy(0.1, reduction=None)(ids, probs))
    expected = [
        -(0.9 * np.log(p[i]) + 0.1 * np.mean(np.log(p)))
        for p, i in zip(probs[0], ids[0], strict=True)
    ]
    np.testing.assert_allclose(smoothed[0], expected, rtol=1e-5)
    assert SmoothedSparseCrossentropy.from_config(
        SmoothedSparseCrossentropy(0.2).get_config()
    ).smoothing == pytest.approx(0.2)


def test_a_search_fits_the_preprocessing_with_its_fixed_values(tiny_dataset) -> None:
    from zoo.tuning.hypermodel import TaskHyperModel

    spec = tiny_dataset("many-to-many-unequal")
    words = TaskHyperModel("many-to-many-unequal", spec, fixed={"units_kind": "words"})
    assert words.task.preprocessing.source_units == text.WORDS
    default = TaskHyperModel("many-to-many-unequal", spec)
    assert default.task.preprocessing.source_units == text.SUBWORDS


@pytest.mark.slow
def test_retraining_a_model_of_word_units_cuts_the_new_data_into_words(
    parallel, tmp_path: Path
) -> None:
    # a parent whose card predates `units_kind`, as the shipped translation models' do
    parent = zoo.train(
        "many-to-many-unequal",
        dataset=parallel,
        epochs=1,
        hparams={**TINY, "units_kind": "words"},
        verbose=0,
    )
    del parent.hyperparameters["units_kind"]
    registry.save(parent, "word-parent", root=tmp_path)
    folder = tmp_path / "new"
    folder.mkdir()
    rows = "Eine Katze schläft.\tA cat sleeps.\nZwei Katzen schlafen.\tTwo cats sleep.\n" * 4
    for split in ("train", "validation"):
        (folder / f"{split}.tsv").write_text(rows, encoding="utf-8")
    new = zoo.prepare(folder, "parallel", source="de", target="en")
    child = zoo.retrain("word-parent", new, epochs=1, head_epochs=0, root=tmp_path, verbose=0)
    prep = child.task.preprocessing
    assert (prep.source_units, prep.target_units) == (text.WORDS, text.WORDS)
    # the new German words are added as words, not as SentencePiece pieces
    added = prep.source_vocabulary[len(parent.task.preprocessing.source_vocabulary) :]
    assert "katze" in added and not any(t.startswith(subwords.SPACE) for t in added)
