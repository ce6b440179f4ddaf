"""One-to-many: image captioning, in the Show-and-Tell style.

A small CNN encodes the image into the initial state of a recurrent decoder, which then
emits the caption one word at a time. Training uses teacher forcing on every reference
caption; inference uses greedy or beam-search decoding; the metric is sacrebleu's corpus
BLEU against all references of an image.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import tensorflow as tf

from zoo.data import text
from zoo.data.images import fit_to_shape, to_model_image
from zoo.data.preprocessing import Preprocessing, graph_ops, vocabulary_field
from zoo.data.spec import GENERATED, DatasetSpec
from zoo.models import seq2seq
from zoo.models.layers import compile_model, output_layer, recurrent
from zoo.tasks.base import EncoderDecoderTask, register_task


@dataclass
class CaptionPreprocessing(Preprocessing):
    """Fitted preprocessing of the captioner.

    Attributes:
        image_shape: [height, width, 3] of the uint8 images the encoder reads.
        max_tokens: words per caption, trained and emitted.
        target_units: how captions are cut into tokens, chosen by the script of the
            training captions (`zoo.data.text.writing_of`): `words`, or `characters` for a
            language written without spaces (one token per Chinese character).
        bleu_tokenize: sacrebleu's tokenizer for the captions' language
            (`zoo.models.seq2seq.bleu_tokenizer`, told by their script).
        vocabulary: caption words after the reserved `[start]` and `[end]` (ids from 2).
    """

    task = "one-to-many"
    image_shape: list[int] = dataclasses.field(default_factory=lambda: [128, 128, 3])
    max_tokens: int = 24
    target_units: str = text.WORDS
    bleu_tokenize: str = seq2seq.DEFAULT_BLEU_TOKENIZER
    vocabulary: list[str] = vocabulary_field()

    @graph_ops
    def normalize(self, captions: tf.Tensor) -> tf.Tensor:
        """Normalised captions, in the preprocessing's units.

        Args:
            captions: string tensor of any shape.

        Returns:
            String tensor of the same shape (`zoo.data.text.normalize`).
        """
        return text.normalize(captions, units=self.target_units)


@register_task
class ImageCaptioning(EncoderDecoderTask):
    """One-to-many: an image in, a caption out, word by word from a recurrent decoder.

    Datasets: `embedded` (`zoo_shapes_captions`) and `coco_captions`. `predict` takes an
    image file or array and returns `{"caption": text}`.
    """

    name = "one-to-many"
    example = "image captioning"
    headline_metric = "bleu"
    input_description = "an image file (PNG/JPEG/GIF/BMP) or an HxWx3 array"
    datasets = {
        "embedded": DatasetSpec(
            "zoo_shapes_captions",
            train="train",
            validation="validation",
            test="test",
            licence=GENERATED,
        ),
        "coco_captions": DatasetSpec(
            "coco_captions",
            train="train",
            validation="val",
            test="test",
            licence="COCO annotations CC BY 4.0; images under their Flickr owners' terms",
        ),
    }
    default_epochs = 10
    head_layer = "logits"
    preprocessing_class = CaptionPreprocessing
    input_features = ("image", "captions")
    target_vocabulary = "vocabulary"
    output_key = "caption"
    bleu_orders = (4, 1)
    default_batch_size = 64
    max_tokens = 24
    max_vocabulary = 8000
    resize_to = (128, 128)  # for datasets whose images vary in size

    # data --------------------------------------------------------------
    def adapt(
        self, train: tf.data.Dataset, spec: DatasetSpec, hp: kt.HyperParameters | None = None
    ) -> None:
        """Fits the caption vocabulary (normalised words of every reference caption, after the
        reserved `[start]` and `[end]`) and takes the image shape from the dataset, or
        `resize_to` (RGB) where its images vary in size. Captions written without spaces
        (Chinese, Japanese, Thai...) are cut into characters (`zoo.data.text.writing_of`).
        """
        features = self.features(spec)
        height, width, _ = features["image"].shape
        shape = [height, width, 3] if height and width else [*self.resize_to, 3]
        raw_captions = train.map(lambda ex: ex["captions"]["text"]).unbatch()
        writing = text.writing_of(raw_captions)
        units = text.units_for(writing)
        captions = raw_captions.map(lambda c: text.normalize(c, units=units)).batch(1024)
        words = (w for batch in captions.as_numpy_iterator() for s in batch for w in s.split())
        self.preprocessing = CaptionPreprocessing(
            image_shape=shape,
            max_tokens=self.max_tokens,
            target_units=units,
            bleu_tokenize=seq2seq.bleu_tokenizer(None, writing),
            vocabulary=text.build_vocabulary(
                words,
                max_size=self.max_vocabulary,
                min_count=self.min_word_count,
                reserved=(text.START, text.END),
            ),
        )

    def _image(self, image: tf.Tensor) -> tf.Tensor:
        return fit_to_shape(
            image, tuple(self.preprocessing.image_shape)
        )  # as `predict` prepares images

    def encode(self, raw: tf.data.Dataset, *, training: bool) -> tf.data.Dataset:
        """One teacher-forcing element per reference caption:
        `({"image": uint8 (height, width, 3), "target_in": int32 (n + 1,)}, target_out int32
        (n + 1,), weights float32 (n + 1,))`, n the caption's words, at most `max_tokens`
        (`zoo.models.seq2seq.encode_target`).
        """
        prep = self.preprocessing

        def lookup(tokens: tf.Tensor) -> tf.Tensor:
            """Caption words -> ids.

            Args:
                tokens: string tensor of any shape.

            Returns:
                int32 ids of the same shape (0 for "", 1 for unknown words).
            """
            return prep.token_ids("vocabulary", tokens)

        max_tokens = prep.max_tokens

        def pairs(ex):  # one teacher-forcing example per reference caption
            """One raw example -> one teacher-forcing element per reference caption.

            Args:
                ex: a raw example: `image` uint8 and `captions/text` strings of shape (captions,).

            Returns:
                A dataset of `(inputs, target_out, weights)` elements, one per caption.
            """
            image = self._image(ex["image"])

            def with_caption(caption):
                """The teacher-forcing element of one caption.

                Args:
                    caption: scalar string tensor, raw caption text.

                Returns:
                    `({"image", "target_in"}, target_out, weights)`, as `encode` describes.
                """
                target_in, target_out, weights = seq2seq.encode_target(
                    prep.normalize(caption), lookup, max_tokens
                )
                return {"image": image, "target_in": target_in}, target_out, weights

            return tf.data.Dataset.from_tensor_slices(ex["captions"]["text"]).map(with_caption)

        return raw.flat_map(pairs)

    @staticmethod
    def length_fn(inputs: dict[str, tf.Tensor], target: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
        """The bucketing length of an encoded element: its caption's length with [end].

        Args:
            inputs: the element's inputs (unused).
            target: int32 expected output ids of shape (n + 1,).
            weights: float32 weights (unused).

        Returns:
            int32 scalar, n + 1.
        """
        return tf.size(target)

    # model -------------------------------------------------------------
    def build_model(self, hp: kt.HyperParameters) -> keras.Model:
        """In the Show-and-Tell style (Vinyals et al. 2015, https://arxiv.org/abs/1411.4555), with
        the image's encoding as the decoder's initial state: a CNN encoder (`encoder`) and a
        recurrent word decoder (`decoder`), joined for teacher forcing. Training inputs `image`
        uint8 (batch, height, width, 3) and `target_in` int32 (batch, time); output float32
        next-word probabilities (batch, time, vocabulary + 2).
        """
        vocabulary = self.preprocessing.vocabulary
        units = hp.Int("units", 32, 512, step=32, default=192)
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.2)
        n_states = seq2seq.state_count(hp)

        # encoder: image -> the decoder's initial state(s)
        image = keras.Input(
            shape=tuple(self.preprocessing.image_shape), dtype="uint8", name="image"
        )
        x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(image)
        filters = hp.Int("cnn_filters", 16, 128, step=16, default=32)
        for block in range(hp.Int("cnn_blocks", 2, 5, default=3)):
            x = keras.layers.Conv2D(
                filters * 2**block, 3, padding="same", activation="relu", name=f"conv_{block}"
            )(x)
            x = keras.layers.BatchNormalization(name=f"bn_{block}")(x)
            x = keras.layers.MaxPooling2D(name=f"pool_{block}")(x)
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
        x = keras.layers.Dropout(dropout, name="image_dropout")(x)
        states = [
            keras.layers.Dense(units, activation="tanh", name=f"init_state_{i}")(x)
            for i in range(n_states)
        ]
        encoder = keras.Model(image, states, name="encoder")

        # decoder: previous words + state -> next-word probabilities, new state
        caption_in = keras.Input(shape=(None,), dtype="int32", name="target_in")
        state_in = [keras.Input(shape=(units,), name=f"state_{i}") for i in range(n_states)]
        y = keras.layers.Embedding(
            text.vocabulary_size(vocabulary),
            hp.Int("embedding_dim", 16, 256, step=16, default=64),
            mask_zero=True,
            name="target_embedding",
        )(caption_in)
        y, *new_states = recurrent(
            hp, units, name="decoder_rnn", return_sequences=True, return_state=True
        )(y, initial_state=state_in)
        y = keras.layers.Dropout(dropout, name="decoder_dropout")(y)
        probs = output_layer(text.vocabulary_size(vocabulary), "softmax", name="logits")(y)
        decoder = keras.Model([caption_in, *state_in], [probs, *new_states], name="decoder")

        model = seq2seq.teacher_forcing_model(encoder, decoder, image, name="one_to_many")
        return compile_model(
            model,
            hp,
            loss="sparse_categorical_crossentropy",
            weighted_metrics=["accuracy"],
            learning_rate=3e-3,
        )

    # decoding and metrics ---------------------------------------------
    def encoder_inputs(self, inputs: list[Any]) -> np.ndarray:
        """uint8 images (batch, height, width, 3) in the model's shape (`to_model_image`)."""
        shape = tuple(self.preprocessing.image_shape)
        return np.stack([to_model_image(image, shape) for image in inputs])

    def serving_inputs(self) -> tuple[tf.TensorSpec, Any]:
        """`image` uint8 (batch, height, width, 3) in the model's shape, fed to the encoder."""
        return tf.TensorSpec(
            [None, *self.preprocessing.image_shape], tf.uint8, name="image"
        ), tf.identity

    def references(self, raw: tf.data.Dataset) -> tuple[list[np.ndarray], list[list[str]]]:
        """Images as the model reads them and their normalised reference captions (lowercased,
        punctuation split off), so greedy or beam output is scored as the model writes it.
        """
        images, references = [], []
        for image, captions in raw.map(
            lambda ex: (
                self._image(ex["image"]),
                self.preprocessing.normalize(ex["captions"]["text"]),
            )
        ).as_numpy_iterator():
            images.append(image)
            references.append([c.decode() for c in captions])
        return images, references

    def raw_input(self, example: dict[str, Any]) -> np.ndarray:
        """The example's uint8 image array, (height, width, 3)."""
        return example["image"]
