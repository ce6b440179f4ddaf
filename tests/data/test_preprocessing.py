"""The typed preprocessing: JSON round trips, id layout, labels by name, fine-tuning merge."""

from __future__ import annotations

import dataclasses
import json

import pytest
import tensorflow as tf

import zoo
from zoo.data.preprocessing import Preprocessing
from zoo.errors import ZooError
from zoo.tasks.base import hyperparameters
from zoo.tasks.many_to_many_equal import TaggerPreprocessing


@pytest.mark.parametrize("name", list(zoo.TASKS))
def test_every_task_preprocessing_round_trips_through_json(name: str) -> None:
    task = zoo.get_task(name)()
    task.adapt(task.load("embedded", "train").take(40), task.dataset("embedded"))
    saved = json.loads(json.dumps(task.preprocessing.to_json()))
    assert type(task.preprocessing).from_json(saved) == task.preprocessing


def test_unknown_keys_are_ignored_and_missing_ones_refused() -> None:
    prep = TaggerPreprocessing.from_json(
        {"vocabulary": ["a"], "characters": ["a"], "tags": ["O"], "from_the_future": 1}
    )
    assert prep.vocabulary == ["a"] and prep.max_word_length == 20

    @dataclasses.dataclass
    class Strict(Preprocessing):
        task = "strict"
        image_shape: list[int]

    with pytest.raises(ZooError, match="the strict preprocessing lacks image_shape"):
        Strict.from_json({"max_tokens": 3})


def test_ids_of_ragged_and_padded_tokens() -> None:
    prep = TaggerPreprocessing(
        vocabulary=["the", "cat"], characters=["t", "h", "e"], tags=["O", "B-PER"]
    )
    ragged = tf.ragged.constant([["the", "dog"], ["cat"]])
    assert prep.token_ids("vocabulary", ragged).to_list() == [[2, 1], [3]]
    inputs = prep.model_inputs(tf.constant([["The", "cat"], ["the", ""]]))
    assert inputs["words"].numpy().tolist() == [[2, 3], [2, 0]]
    assert inputs["chars"].numpy()[1, 1].tolist() == [0, 0, 0]  # padding has no characters
    assert inputs["chars"].numpy()[0, 0].tolist() == [1, 3, 4]  # T unknown (case kept), h, e
    assert prep.label_ids("tags", tf.constant(["B-PER", "O", "I-LOC"])).numpy().tolist() == [
        1,
        0,
        -1,
    ]


def test_the_tagger_keeps_case_in_its_word_ids_when_asked(tiny_dataset) -> None:
    """`lowercase=false` keeps `US` and `us` apart in the vocabulary and the lookup; the
    default, and every file written before the option, lowercase."""
    cased = TaggerPreprocessing(
        vocabulary=["US", "us"], characters=["u"], tags=["O"], lowercase=False
    )
    assert cased.model_inputs(tf.constant(["US", "us", "Us"]))["words"].numpy().tolist() == [
        2,
        3,
        1,
    ]
    older = TaggerPreprocessing.from_json(
        {"vocabulary": ["us"], "characters": ["u"], "tags": ["O"]}
    )
    assert older.lowercase and older.fitting_options() == {"lowercase": True}
    assert older.model_inputs(tf.constant(["US", "us"]))["words"].numpy().tolist() == [2, 2]
    task = zoo.get_task("many-to-many-equal")()
    spec = tiny_dataset("many-to-many-equal", train=40)
    train = task.load(spec, "train")
    words = {t.decode() for ex in train.as_numpy_iterator() for t in ex["tokens"]}
    task.adapt(train, spec, hyperparameters({"lowercase": False}))
    assert not task.preprocessing.lowercase
    assert any(w != w.lower() for w in task.preprocessing.vocabulary)
    assert set(task.preprocessing.vocabulary) <= words
    task.adapt(train, spec)
    assert task.preprocessing.lowercase
    assert all(w == w.lower() for w in task.preprocessing.vocabulary)


def test_entity_f1_reads_each_tag_scheme_by_its_own_rules() -> None:
    """Ill-formed IOB2 predictions scored 1.0 under conlleval's lenient rules."""
    from zoo.tasks.many_to_many_equal import entity_scores

    gold, guess = [["B-PER", "I-PER", "O", "B-LOC"]], [["I-PER", "I-PER", "O", "I-LOC"]]
    assert entity_scores(gold, guess, "IOB1")["entity_f1"] == 1.0  # CoNLL-2003 (conlleval)
    assert entity_scores(gold, guess, "IOB2")["entity_f1"] == 0.0
    bioes_gold, bioes_guess = [["B-PER", "E-PER", "O", "S-LOC"]], [["B-PER", "I-PER", "O", "S-LOC"]]
    assert entity_scores(bioes_gold, bioes_gold, "BIOES")["entity_f1"] == 1.0
    # an entity opened by B- but not closed by E- is not one: precision 1, recall 1/2
    assert entity_scores(bioes_gold, bioes_guess, "BIOES")["entity_f1"] == pytest.approx(2 / 3)


def test_the_tagger_records_its_data_tag_scheme(tiny_dataset) -> None:
    task = zoo.get_task("many-to-many-equal")()
    spec = tiny_dataset("many-to-many-equal")
    task.adapt(task.load(spec, "train"), spec)
    gold = [
        ex["ner_name"].astype(str).tolist() for ex in task.load(spec, "train").as_numpy_iterator()
    ]
    opened_by_i = any(
        tag.startswith("I-") and (i == 0 or sentence[i - 1][2:] != tag[2:])
        for sentence in gold
        for i, tag in enumerate(sentence)
    )
    assert task.preprocessing.tag_scheme == ("IOB1" if opened_by_i else "IOB2")
    assert (
        TaggerPreprocessing.from_json(
            {"vocabulary": [], "characters": [], "tags": ["O"]}
        ).tag_scheme
        == "IOB1"
    )


def test_an_unknown_split_is_named_with_the_real_ones() -> None:
    """`Task.load` with an unknown split gave a raw AttributeError (and the message listed
    only train and validation)."""
    task = zoo.get_task("many-to-one")()
    with pytest.raises(zoo.UnknownNameError, match="'tset'.*test"):
        task.load("embedded", "tset")
