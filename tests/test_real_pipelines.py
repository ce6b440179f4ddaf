"""The real TFDS datasets' pipelines, exercised offline on `tfds.testing.mock_data`:
shapes, dtypes, right padding and the masks/weights that keep padding out of the loss."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import zoo
from zoo.data import loading
from zoo.tasks.base import hyperparameters

REAL = {
    "one-to-one": "mnist",
    "one-to-many": "coco_captions",
    "many-to-one": "imdb_reviews",
    "many-to-many-equal": "conll2003",
    "many-to-many-unequal": "ted_hrlr_translate/pt_to_en",
}


@pytest.fixture
def mocked():
    with tfds.testing.mock_data(num_examples=12, policy=tfds.testing.MockPolicy.USE_CODE):
        yield


def _first_batch(task_name: str):
    task = zoo.get_task(task_name)()
    task.min_word_count = 1  # mock words are random strings, each seen once
    raw = task.load(REAL[task_name], "train")
    task.adapt(raw, task.dataset(REAL[task_name]))
    batch = next(iter(task.batches(raw, 4, training=True)))
    return task, batch


def _assert_right_padded(ids: np.ndarray, pad) -> None:
    """Within each row, padding only follows real tokens (what cuDNN requires)."""
    for row in ids:
        is_pad = row == pad
        if is_pad.any():
            first = int(np.argmax(is_pad))
            assert is_pad[first:].all(), f"padding is not all on the right: {row}"


def test_mnist(mocked) -> None:
    task, (images, labels) = _first_batch("one-to-one")
    assert images.dtype == tf.uint8 and images.shape[1:] == (28, 28, 1)
    assert labels.dtype == tf.int32 and labels.shape == (4,)  # ids of the model's label order
    model = task.build_model(hyperparameters())
    assert model(images).shape == (4, 10)


def test_imdb_reviews(mocked) -> None:
    task, (ids, labels) = _first_batch("many-to-one")
    assert (
        ids.dtype == tf.int32 and ids.shape[0] == 4
    )  # the preprocessing made the ids: the model reads numbers
    _assert_right_padded(ids.numpy(), 0)
    model = task.build_model(hyperparameters())
    mask = model.get_layer("embedding").compute_mask(ids)
    np.testing.assert_array_equal(np.asarray(mask), ids.numpy() != 0)
    assert model(ids).shape == (4, 1)


def test_trec_reads_its_coarse_labels_as_a_six_class_softmax(mocked) -> None:
    task = zoo.get_task("many-to-one")()
    task.min_word_count = 1
    raw = task.load("trec", "train")
    task.adapt(raw, task.dataset("trec"))
    assert task.preprocessing.head == "multi-class" and len(task.preprocessing.labels) == 6
    ids, labels = next(iter(task.batches(raw, 4, training=True)))
    assert labels.dtype == tf.int32 and set(labels.numpy()) <= set(range(6))
    model = task.build_model(hyperparameters())
    assert model(ids).shape == (4, 6)


def test_conll2003(mocked) -> None:
    task, (inputs, tags, weights) = _first_batch("many-to-many-equal")
    words, casing = inputs["words"].numpy(), inputs["casing"].numpy()
    assert words.dtype == np.int32 and casing.dtype == np.int32 and tags.dtype == tf.int32
    assert words.shape == casing.shape == tags.shape == weights.shape
    _assert_right_padded(words, 0)
    np.testing.assert_array_equal(weights.numpy() == 0, words == 0)  # padding weighs nothing
    np.testing.assert_array_equal(casing == 0, words == 0)
    assert task.preprocessing.tags[0] == "O" and len(task.preprocessing.tags) == 9
    model = task.build_model(hyperparameters())
    assert model(inputs).shape == (*tags.shape, 9)


@pytest.mark.parametrize("task_name", ["many-to-many-unequal", "one-to-many"])
def test_decoder_tasks(mocked, task_name: str) -> None:
    task, (inputs, target_out, weights) = _first_batch(task_name)
    target_in = inputs["target_in"].numpy()
    assert target_in.dtype == np.int32 and target_in.shape == target_out.shape == weights.shape
    _assert_right_padded(target_in, 0)
    np.testing.assert_array_equal(weights.numpy() == 0, target_out.numpy() == 0)
    start = task_vocab_id(task, "[start]")
    assert (target_in[:, 0] == start).all()  # teacher forcing: the decoder reads [start] first
    # the expected output is the input shifted by one step
    np.testing.assert_array_equal(
        target_out.numpy()[:, :-1][target_in[:, 1:] != 0], target_in[:, 1:][target_in[:, 1:] != 0]
    )
    if task_name == "one-to-many":
        assert inputs["image"].dtype == tf.uint8 and tuple(inputs["image"].shape[1:]) == (
            128,
            128,
            3,
        )
    model = task.build_model(hyperparameters())
    assert model(inputs).shape[:2] == target_out.shape


def task_vocab_id(task, token: str) -> int:
    vocabulary = (
        getattr(task.preprocessing, "target_vocabulary", None) or task.preprocessing.vocabulary
    )
    return vocabulary.index(token) + 2


def test_offline_error_names_dataset_cause_and_alternatives(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(loading, "_network_reachable", lambda: False)
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    with pytest.raises(zoo.DatasetUnavailableError) as info:
        zoo.get_task("many-to-one")().load("imdb_reviews", "train")
    message = str(info.value)
    assert "'imdb_reviews' is not available" in message
    assert "cannot reach the network" in message
    assert "--dataset embedded (zoo_reviews)" in message
    assert str(tmp_path) in message  # where to put a copy prepared elsewhere


def test_failed_download_is_reported_not_raised_raw(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(loading, "_network_reachable", lambda: True)
    real_load = tfds.load

    def failing_load(*args, **kwargs):
        if kwargs.get("download"):
            raise ConnectionError("Max retries exceeded with url: /data.tar.gz")
        return real_load(*args, **kwargs)

    monkeypatch.setattr(tfds, "load", failing_load)
    with pytest.raises(
        zoo.DatasetUnavailableError, match=r"the download failed \(Max retries exceeded"
    ):
        loading.load_tfds(
            "mnist", "train", directory=str(tmp_path), offline_alternative="zoo_digits"
        )
