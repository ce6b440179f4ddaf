"""Captioning's attention over the image, its per-epoch training elements, and the models of
version 1 (Show and Tell), on the embedded shapes (32x32 images) and tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import zoo
from zoo import registry
from zoo.cli import main
from zoo.errors import BadInputError, UnknownNameError
from zoo.models.custom_layers import SpatialAttention
from zoo.models.plots import PANELS_PER_ROW, plot_attention
from zoo.tasks.base import hyperparameters
from zoo.training.fit import finish

#: two blocks of 2x2 pooling: the 32x32 shapes become a 8x8 grid
TINY = {"units": 16, "embedding_dim": 8, "cnn_filters": 8, "cnn_blocks": 2, "cell": "lstm"}


@pytest.fixture(scope="module")
def captioner(tiny_dataset):
    """A fitted task on 16 shapes, its dataset spec, and an untrained soft-attention model."""
    keras.utils.set_random_seed(0)
    task = zoo.get_task("one-to-many")()
    spec = tiny_dataset("one-to-many")
    task.adapt(task.load(spec, "train"), spec)
    return task, spec, task.build_model(hyperparameters(TINY))


def validation_images(task, spec, n: int = 3) -> list[np.ndarray]:
    return [task.raw_input(ex) for ex in task.load(spec, "validation").take(n).as_numpy_iterator()]


def test_spatial_attention_weights_sum_to_one_and_weigh_the_features() -> None:
    layer = SpatialAttention(6)
    query = np.random.default_rng(0).normal(size=(2, 5, 4)).astype("float32")
    features = np.random.default_rng(1).normal(size=(2, 9, 3)).astype("float32")
    context, weights = (np.asarray(t) for t in layer([query, features]))
    assert weights.shape == (2, 5, 9) and context.shape == (2, 5, 3)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-6)
    assert (weights > 0).all()
    np.testing.assert_allclose(context, np.einsum("btn,bnd->btd", weights, features), atol=1e-5)


def test_predict_returns_each_words_weights_over_the_grid(captioner) -> None:
    task, spec, model = captioner
    images = validation_images(task, spec)
    results = task.predict(model, images, return_attention=True)
    plain = task.predict(model, images)
    for result, expected, image in zip(results, plain, images, strict=True):
        attention = result.pop("attention")
        assert result == expected  # the caption is the one predict gives without weights
        words = expected["caption"].split()
        assert attention["tokens"] == words
        assert attention["weights"].shape == (len(words), 8, 8)
        np.testing.assert_allclose(attention["weights"].sum(axis=(1, 2)), 1.0, atol=1e-5)
        np.testing.assert_array_equal(attention["image"], image)


def test_teacher_forced_weights_are_those_of_the_decoding_steps(captioner) -> None:
    # the weights returned are recomputed from the caption: they must be the ones the decoder
    # used while it wrote it, step by step
    task, spec, model = captioner
    image = validation_images(task, spec, 1)
    (result,) = task.predict(model, image, beam_width=1, return_attention=True)
    tokens = result["attention"]["tokens"]
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    step_weights = keras.Model(decoder.inputs, decoder.get_layer("attention").output[1])
    grid, *states = encoder(task.encoder_inputs(image))
    token = keras.ops.convert_to_tensor([[task.preprocessing.vocabulary.index("[start]") + 2]])
    ids = task.preprocessing.token_ids("vocabulary", tf.constant(tokens)).numpy()
    for t, expected in enumerate(result["attention"]["weights"]):
        weights = np.asarray(step_weights([token, grid, *states]))[0, 0]
        np.testing.assert_allclose(weights.reshape(8, 8), expected, atol=1e-5)
        _, *states = decoder([token, grid, *states])
        token = keras.ops.convert_to_tensor([[int(ids[t])]])


def test_a_model_without_attention_says_so(captioner) -> None:
    task, spec, _ = captioner
    model = task.build_model(hyperparameters({**TINY, "attention": "none"}))
    with pytest.raises(BadInputError, match="attention=none"):
        task.predict(model, validation_images(task, spec, 1), return_attention=True)


def test_other_tasks_refuse_return_attention() -> None:
    task = zoo.get_task("many-to-many-unequal")()
    with pytest.raises(BadInputError, match="no attention"):
        task.attention(None, None, [])


@pytest.mark.parametrize(("words", "rows", "columns"), [(3, 1, 3), (7, 2, PANELS_PER_ROW)])
def test_attention_plot_has_a_panel_per_word(
    words: int, rows: int, columns: int, tmp_path: Path
) -> None:
    weights = np.full((words, 8, 8), 1 / 64, dtype="float32")
    image = np.zeros((32, 32, 3), dtype="uint8")
    path = plot_attention(
        {"tokens": [f"w{i}" for i in range(words)], "weights": weights, "image": image},
        tmp_path / "attention.png",
    )
    with Image.open(path) as png:
        assert png.format == "PNG"
        # each panel is 2.2 x 2.4 inches at 80 dpi
        assert png.size == (round(176 * columns), round(192 * rows))


def test_soft_attention_model_loads_in_safe_mode(captioner, tmp_path: Path) -> None:
    task, spec, model = captioner
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    images = validation_images(task, spec)
    assert task.predict(loaded, images, return_attention=False) == task.predict(model, images)
    before = task.predict(model, images, return_attention=True)
    after = task.predict(loaded, images, return_attention=True)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_allclose(a["attention"]["weights"], b["attention"]["weights"], atol=1e-6)


@pytest.mark.slow
def test_zoo_predict_draws_the_attention_plot(captioner, tmp_path: Path, capsys) -> None:
    task, spec, model = captioner
    result = finish(
        task,
        model,
        spec,
        hp=TINY,
        seed=0,
        epochs=1,
        batch_size=8,
        history={"loss": [1.0]},
        seconds=0.0,
    )
    path = registry.save(result, "captioner", root=tmp_path / "registry")
    image = tmp_path / "shape.png"
    Image.fromarray(validation_images(task, spec, 1)[0]).save(image)
    plot = tmp_path / "attention.png"
    ref = f"captioner@{path.name}"
    capsys.readouterr()
    main(
        [
            "predict",
            ref,
            str(image),
            "--attention-plot",
            str(plot),
            "--registry",
            str(tmp_path / "registry"),
        ]
    )
    line = json.loads(capsys.readouterr().out)
    words = len(line["output"]["caption"].split())
    assert set(line["output"]) <= {"caption", "truncated"}
    with Image.open(plot) as png:
        columns = min(max(words, 1), PANELS_PER_ROW)
        assert png.size == (176 * columns, 192 * -(-max(words, 1) // columns))


@pytest.mark.parametrize(
    ("inputs", "plot", "message"),
    [
        (["a.png", "b.png"], "p.png", "exactly one INPUT"),
        (["a.png"], "missing/p.png", "existing folder"),
        (["a.png"], ".", "existing folder"),
    ],
)
def test_attention_plot_takes_one_input_and_a_file_in_a_folder(
    inputs: list[str], plot: str, message: str, tmp_path: Path, capsys
) -> None:
    assert main(["predict", "any", *inputs, "--attention-plot", str(tmp_path / plot)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "p.png").exists()


def test_each_epoch_trains_one_caption_per_image_with_mirrored_sides(captioner) -> None:
    task, _, _ = captioner
    image = np.zeros((32, 32, 3), dtype="uint8")
    image[:, :16] = 255  # white on the left
    vocabulary = ["[PAD]", "[UNK]", *task.preprocessing.vocabulary]
    words = ["a", "circle", "square", "on", "in", "the", "left", "right", "center"]
    assert set(words) <= set(vocabulary), sorted(vocabulary)
    captions = tf.constant(
        ["a circle on the left", "the square on the right", "a circle in the center"]
    )
    element = {"image": tf.constant(image), "captions": captions}
    seen = set()
    for seed in range(40):
        inputs, target_out, weights = task.per_epoch(element, tf.constant([seed, 7], tf.int64))
        words = [vocabulary[i] for i in target_out.numpy()[:-1]]
        mirrored = inputs["image"].numpy()[:, :8].mean() < inputs["image"].numpy()[:, -8:].mean()
        sentence = " ".join(words)
        if mirrored:  # what was on the left is now on the right, and the caption says so
            sentence = sentence.replace("right", "LEFT").replace("left", "right").lower()
        assert sentence in {c.decode() for c in captions.numpy()}, (sentence, mirrored)
        assert inputs["image"].dtype == tf.uint8 and inputs["image"].shape == (32, 32, 3)
        assert weights.numpy().sum() == len(words) + 1
        seen.add((sentence, bool(mirrored)))
    # every caption and both orientations turn up; the same seed gives the same element
    assert {s for s, _ in seen} == {c.decode() for c in captions.numpy()}
    assert {m for _, m in seen} == {True, False}
    again = task.per_epoch(element, tf.constant([3, 7], tf.int64))
    first = task.per_epoch(element, tf.constant([3, 7], tf.int64))
    np.testing.assert_array_equal(again[0]["image"], first[0]["image"])


def test_training_batches_hold_one_element_per_image(captioner) -> None:
    task, spec, _ = captioner
    train = task.load(spec, "train")
    elements = sum(int(b[1].shape[0]) for b in task.batches(train, 4, training=True))
    per_caption = sum(int(b[1].shape[0]) for b in task.batches(train, 4, training=False))
    assert elements == 16 and per_caption == sum(
        int(ex["captions"]["text"].shape[0]) for ex in train.as_numpy_iterator()
    )


def test_version_1_cards_rebuild_show_and_tell() -> None:
    task = zoo.get_task("one-to-many")
    assert task.card_hyperparameters({"units": 256}) == {
        "attention": "none",
        "cnn_convs": 1,
        "units": 256,
    }
    assert task.card_hyperparameters({"attention": "soft"})["attention"] == "soft"


@pytest.mark.slow  # builds MobileNetV3 (about a minute on 2 cores)
def test_a_keras_applications_backbone_trains_and_loads_in_safe_mode(
    captioner, tmp_path: Path
) -> None:
    # random weights: ImageNet's cannot be downloaded here; a 32x32 image gives a 1x1 grid
    task, spec, _ = captioner
    model = task.build_model(
        hyperparameters({**TINY, "encoder": "mobilenet_v3_small", "encoder_weights": "none"})
    )
    batch = next(task.batches(task.load(spec, "train"), 8, training=True).as_numpy_iterator())
    assert np.isfinite(model.train_on_batch(*batch)[0])
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    images = validation_images(task, spec, 2)
    assert task.predict(loaded, images) == task.predict(model, images)
    (result,) = task.predict(loaded, images[:1], return_attention=True)
    assert result["attention"]["weights"].shape[1:] == (1, 1)


def test_an_unknown_backbone_is_named(captioner) -> None:
    task, _, _ = captioner
    with pytest.raises(UnknownNameError, match="efficientnet_b0"):
        task.build_model(hyperparameters({**TINY, "encoder": "resnet"}))
