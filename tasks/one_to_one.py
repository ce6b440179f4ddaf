"""One-to-one: image classification.

The seed's "standard NN" seen as a recurrent network: the flattened image enters the
recurrent layer as a sequence of length one. With `steps` = K > 1 the same image is fed
at K unfolded time steps, so the shared recurrent weights refine the hidden state K times
before the softmax reads it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import tensorflow as tf

from zoo.data.images import fit_to_shape, to_model_image
from zoo.data.preprocessing import Preprocessing, label_field
from zoo.data.spec import DatasetSpec
from zoo.models.compiled import compiled_call, graph_call
from zoo.models.layers import compile_model, lower_layers, output_layer, recurrent
from zoo.tasks.base import Task, class_names, register_task, with_unknown
from zoo_runtime import readouts


@dataclass
class ImageClassifierPreprocessing(Preprocessing):
    """Fitted preprocessing of the image classifier.

    Attributes:
        image_shape: [height, width, channels] of the uint8 images the model reads.
        labels: the class names, in the output layer's order.
    """

    task = "one-to-one"
    image_shape: list[int] = dataclasses.field(default_factory=lambda: [28, 28, 1])
    labels: list[str] = label_field()


@register_task
class ImageClassification(Task):
    """One-to-one: an image in, a class out, through a recurrent layer read for `steps` steps.

    Datasets: `embedded` (`zoo_digits`, 8x8 digits) and `mnist`. `predict` takes an image
    file or array and returns `{"label", "probability"}`.
    """

    name = "one-to-one"
    example = "image classification"
    headline_metric = "accuracy"
    input_description = "an image file (PNG/JPEG/GIF/BMP) or an HxW[xC] array"
    datasets = {
        "embedded": DatasetSpec(
            "zoo_digits",
            train="train[:85%]",
            validation="train[85%:]",
            test="test",
            licence="UCI optdigits via scikit-learn (Alpaydin & Kaynak 1998): CC BY 4.0",
        ),
        "mnist": DatasetSpec(
            "mnist",
            train="train[:90%]",
            validation="train[90%:]",
            test="test",
            licence="MNIST (LeCun et al.): CC BY-SA 3.0",
        ),
    }
    model_notes = (
        "`steps` (K) is how many unfolded time steps the recurrent layer reads the same image for: "
        "K = 1 is the seed's standard feed-forward network (a sequence of length one); with K > 1 the "
        "shared recurrent weights refine the hidden state K times before the softmax reads it."
    )
    default_epochs = 15
    head_layer = "classifier"
    preprocessing_class = ImageClassifierPreprocessing
    label_features = {"labels": "label"}
    input_features = ("image",)
    default_batch_size = 64

    # data --------------------------------------------------------------
    def adapt(
        self, train: tf.data.Dataset, spec: DatasetSpec, hp: kt.HyperParameters | None = None
    ) -> None:
        """Takes the image shape and class names from the dataset's `image` and `label` features;
        nothing is fitted on the examples. A dataset whose images vary in size (a shape with
        None) is not resized here, unlike the captioner's.
        """
        features = self.features(spec)
        self.preprocessing = ImageClassifierPreprocessing(
            image_shape=list(features["image"].shape), labels=class_names(features["label"])
        )

    def encode(self, raw: tf.data.Dataset, *, training: bool) -> tf.data.Dataset:
        """Elements `(image, label)`: uint8 (height, width, channels) converted to the
        preprocessing's shape, and an int32 scalar label id (-1 for an unknown label).
        """
        prep = self.preprocessing
        shape = tuple(prep.image_shape)
        return raw.map(
            lambda ex: (
                fit_to_shape(ex["image"], shape),
                prep.label_ids("labels", ex["label_name"]),
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )

    # model -------------------------------------------------------------
    def build_model(self, hp: kt.HyperParameters) -> keras.Model:
        """Rescale to [0, 1] -> flatten -> the same vector at `steps` time steps -> recurrent
        layers -> dropout -> softmax over `labels`. Input `image`, uint8 (batch, height, width,
        channels); output float32 probabilities (batch, classes).
        """
        image = keras.Input(
            shape=tuple(self.preprocessing.image_shape), dtype="uint8", name="image"
        )
        x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(image)
        x = keras.layers.Flatten(name="flatten")(x)
        # K copies of the same input: one unfolded step per copy, one set of weights.
        x = keras.layers.RepeatVector(hp.Int("steps", 1, 8, default=1), name="repeat_steps")(x)
        units = hp.Int("units", 32, 512, step=32, default=128)
        x = recurrent(hp, units, name="rnn")(
            lower_layers(hp, x, units, name="rnn", bidirectional=False)
        )
        x = keras.layers.Dropout(
            hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.2), name="dropout"
        )(x)
        probs = output_layer(len(self.preprocessing.labels), "softmax", name="classifier")(x)
        model = keras.Model(image, probs, name="one_to_one")
        return compile_model(
            model, hp, loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )

    # decoding and metrics ---------------------------------------------
    def evaluate(
        self, model: keras.Model, raw: tf.data.Dataset, *, batch_size: int = 64, quick: bool = False
    ) -> dict[str, float]:
        """`accuracy`: top-1 accuracy, and `unknown_labels` when examples carry a label the
        model does not know (each counts wrong).
        """
        correct = total = unknown = 0
        for images, labels in self.batches(raw, batch_size, training=False):
            correct += int(
                (np.asarray(compiled_call(model)(images)).argmax(-1) == labels.numpy()).sum()
            )
            unknown += int((labels.numpy() < 0).sum())
            total += len(labels)
        return with_unknown({"accuracy": correct / max(1, total)}, "unknown_labels", unknown)

    def raw_input(self, example: dict[str, Any]) -> np.ndarray:
        """The example's uint8 image array, (height, width, channels)."""
        return example["image"]

    def serving_function(self, model: keras.Model) -> tf.types.experimental.PolymorphicFunction:
        """Signature: `image` uint8 (batch, height, width, channels) in the model's shape ->
        `label` string (batch,) and `probabilities` float32 (batch, classes).
        """
        labels = tf.constant(self.preprocessing.labels)
        classify = graph_call(model)

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, *self.preprocessing.image_shape], tf.uint8, name="image")
            ]
        )
        def serve(image):
            """Classify one batch of images.

            Args:
                image: uint8 tensor of shape (batch, height, width, channels), the model's shape.

            Returns:
                `{"label": string (batch,), "probabilities": float32 (batch, classes)}`.
            """
            probs = classify(image)
            return {"label": tf.gather(labels, tf.argmax(probs, axis=-1)), "probabilities": probs}

        return serve

    def predict(self, model: keras.Model, inputs: list[Any]) -> list[dict[str, Any]]:
        """`{"label": name, "probability": p}` per image: the top class and its probability,
        rounded to 4 decimals. Paths and arrays are converted to the model's size and channels
        (`zoo.data.images.to_model_image`), which raises `BadInputError` for unreadable images.
        """
        shape = tuple(self.preprocessing.image_shape)
        batch = np.stack([to_model_image(image, shape) for image in inputs])
        probs = np.asarray(compiled_call(model)(batch))
        return readouts.image_labels(probs, self.preprocessing.labels)
