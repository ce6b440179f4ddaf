"""The typed preprocessing: JSON round trips, id layout, labels by name, fine-tuning merge."""

from __future__ import annotations

import dataclasses
import json

import pytest
import tensorflow as tf

import zoo
from zoo.data.preprocessing import Preprocessing
from zoo.errors import ZooError
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
