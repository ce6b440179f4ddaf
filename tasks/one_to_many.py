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
from zoo.data.images import augment, fit_to_shape, to_model_image
from zoo.data.preprocessing import Preprocessing, graph_ops, vocabulary_field
from zoo.data.spec import GENERATED, DatasetSpec
from zoo.errors import BadInputError, UnknownNameError
from zoo.models import seq2seq
from zoo.models.custom_layers import SpatialAttention
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


#: `attention` hyperparameter: `soft` attends over the image's feature grid at every word,
#: `none` reads the image only through the decoder's initial state
ATTENTION_KINDS = ["soft", "none"]


#: `encoder` hyperparameter values besides `cnn`: `keras.applications` backbones that take
#: 0-255 pixels (their preprocessing is part of the model, so it travels with it)
BACKBONES = {
    "efficientnet_b0": "EfficientNetB0",
    "mobilenet_v3_small": "MobileNetV3Small",
    "mobilenet_v3_large": "MobileNetV3Large",
    "convnext_tiny": "ConvNeXtTiny",
}


def _swap_sides(caption: tf.Tensor) -> tf.Tensor:
    """A normalised caption of a mirrored image: the words `left` and `right` swapped.

    Args:
        caption: scalar string tensor, normalised (lowercase words).

    Returns:
        The caption with every `left` read `right` and every `right` read `left`.
    """
    marked = tf.strings.regex_replace(caption, r"\bleft\b", "\x01")
    swapped = tf.strings.regex_replace(marked, r"\bright\b", "left")
    return tf.strings.regex_replace(swapped, "\x01", "right")


@register_task
class ImageCaptioning(EncoderDecoderTask):
    """One-to-many: an image in, a caption out, word by word from a recurrent decoder.

    Datasets: `embedded` (`zoo_shapes_captions`) and `coco_captions`. `predict` takes an
    image file or array and returns `{"caption": text}`.
    """

    name = "one-to-many"
    example = "image captioning"
    # beam-search BLEU-4: greedy BLEU swings from epoch to epoch more than beam's does, and
    # beam search is how `predict` captions
    headline_metric = "bleu_beam"
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
    bleu_orders = (4, 1, 2, 3)  # BLEU-1..4, as captioning papers report them
    default_batch_size = 64
    max_tokens = 24
    max_vocabulary = 8000
    resize_to = (128, 128)  # for datasets whose images vary in size
    # the models of version 1 (Show and Tell, one convolution per block) predate both
    hyperparameters_before = {"attention": "none", "cnn_convs": 1}

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

    def _lookup(self, tokens: tf.Tensor) -> tf.Tensor:
        """Caption words -> ids.

        Args:
            tokens: string tensor of any shape.

        Returns:
            int32 ids of the same shape (0 for "", 1 for unknown words).
        """
        return self.preprocessing.token_ids("vocabulary", tokens)

    def _teacher_forcing(self, image: tf.Tensor, caption: tf.Tensor) -> tuple[Any, ...]:
        """The teacher-forcing element of one image and one normalised caption.

        Args:
            image: uint8 (height, width, 3), in the model's shape.
            caption: scalar string tensor, normalised (`CaptionPreprocessing.normalize`).

        Returns:
            `({"image", "target_in"}, target_out, weights)`, as `encode` describes.
        """
        prep = self.preprocessing
        target_in, target_out, weights = seq2seq.encode_target(
            caption, self._lookup, prep.max_tokens
        )
        return {"image": image, "target_in": target_in}, target_out, weights

    def encode(self, raw: tf.data.Dataset, *, training: bool) -> tf.data.Dataset:
        """For evaluation, one teacher-forcing element per reference caption:
        `({"image": uint8 (height, width, 3), "target_in": int32 (n + 1,)}, target_out int32
        (n + 1,), weights float32 (n + 1,))`, n the caption's words, at most `max_tokens`
        (`zoo.models.seq2seq.encode_target`). For training, one element per image,
        `{"image", "captions": strings (captions,)}`, which `per_epoch` turns
        into one such element every epoch, so the encoder sees each image once an epoch.
        """
        prep = self.preprocessing
        if training:
            return raw.map(
                lambda ex: {
                    "image": self._image(ex["image"]),
                    "captions": ex["captions"]["text"],
                },
                num_parallel_calls=tf.data.AUTOTUNE,
            )

        def pairs(ex):
            """One raw example -> one teacher-forcing element per reference caption.

            Args:
                ex: a raw example: `image` uint8 and `captions/text` strings of shape (captions,).

            Returns:
                A dataset of `(inputs, target_out, weights)` elements, one per caption.
            """
            image = self._image(ex["image"])
            return tf.data.Dataset.from_tensor_slices(ex["captions"]["text"]).map(
                lambda caption: self._teacher_forcing(image, prep.normalize(caption))
            )

        return raw.flat_map(pairs)

    def per_epoch(self, element: dict[str, tf.Tensor], seed: tf.Tensor) -> tuple[Any, ...]:
        """This epoch's training element of one image: one of its captions drawn at random,
        and the image augmented (`zoo.data.images.augment`: crop, mirror, colour jitter); a
        mirrored image's caption swaps `left` and `right`.

        Args:
            element: `{"image": uint8 (height, width, 3), "captions": strings (captions,)}`,
                as `encode` gives it for training.
            seed: int64 (2,), this element's seed for this epoch.

        Returns:
            `({"image", "target_in"}, target_out, weights)`, as `encode` describes.
        """
        captions = element["captions"]
        pick_seed, image_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        pick = tf.random.stateless_uniform([], pick_seed, maxval=tf.size(captions), dtype=tf.int32)
        image, mirrored = augment(element["image"], image_seed)
        caption = self.preprocessing.normalize(captions[pick])
        caption = tf.cond(mirrored, lambda: _swap_sides(caption), lambda: caption)
        return self._teacher_forcing(image, caption)

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
        """A CNN encoder (`encoder`) and a recurrent word decoder (`decoder`), joined for
        teacher forcing. Training inputs `image` uint8 (batch, height, width, 3) and
        `target_in` int32 (batch, time); output float32 next-word probabilities (batch, time,
        vocabulary + 2).

        With `attention=soft` (the default), the encoder keeps the CNN's grid of features
        (8x8 positions for 128x128 images and 4 blocks) and the decoder attends over it at
        every word (`SpatialAttention`, as in Show, Attend and Tell, Xu et al. 2015,
        https://arxiv.org/abs/1502.03044); its mean sets the decoder's initial state. With
        `attention=none`, the image's pooled encoding is only the initial state (Show and
        Tell, Vinyals et al. 2015, https://arxiv.org/abs/1411.4555).
        """
        vocabulary = self.preprocessing.vocabulary
        units = hp.Int("units", 32, 512, step=32, default=192)
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.2)
        embedding_dim = hp.Int("embedding_dim", 16, 256, step=16, default=64)
        attention = hp.Choice("attention", ATTENTION_KINDS, default="soft")
        n_states = seq2seq.state_count(hp)

        # encoder: image -> [feature grid,] the decoder's initial state(s)
        image = keras.Input(
            shape=tuple(self.preprocessing.image_shape), dtype="uint8", name="image"
        )
        x = self._image_features(hp, image)
        pooled = keras.layers.GlobalAveragePooling2D(name="pool")(x)
        pooled = keras.layers.Dropout(dropout, name="image_dropout")(pooled)
        states = [
            keras.layers.Dense(units, activation="tanh", name=f"init_state_{i}")(pooled)
            for i in range(n_states)
        ]
        feature_dim = x.shape[-1]
        if attention == "soft":
            grid = keras.layers.Reshape((-1, feature_dim), name="grid")(x)
            grid = keras.layers.Dropout(dropout, name="grid_dropout")(grid)
            encoder = keras.Model(image, [grid, *states], name="encoder")
        else:
            encoder = keras.Model(image, states, name="encoder")

        # decoder: previous words + [grid +] state -> next-word probabilities, new state
        caption_in = keras.Input(shape=(None,), dtype="int32", name="target_in")
        grid_in = keras.Input(shape=(None, feature_dim), name="image_grid")
        state_in = [keras.Input(shape=(units,), name=f"state_{i}") for i in range(n_states)]
        embedded = keras.layers.Embedding(
            text.vocabulary_size(vocabulary),
            embedding_dim,
            mask_zero=True,
            name="target_embedding",
        )(caption_in)
        y, *new_states = recurrent(
            hp, units, name="decoder_rnn", return_sequences=True, return_state=True
        )(embedded, initial_state=state_in)
        if attention == "soft":
            context, _ = SpatialAttention(units, name="attention")([y, grid_in])
            # Show, Attend and Tell's deep output: word, state and context, into one layer
            y = keras.layers.Concatenate(name="attention_concat")([embedded, y, context])
            y = keras.layers.Dense(units, activation="tanh", name="attention_combine")(y)
        y = keras.layers.Dropout(dropout, name="decoder_dropout")(y)
        probs = output_layer(text.vocabulary_size(vocabulary), "softmax", name="logits")(y)
        context_in = [grid_in] if attention == "soft" else []
        decoder = keras.Model(
            [caption_in, *context_in, *state_in], [probs, *new_states], name="decoder"
        )

        model = seq2seq.teacher_forcing_model(encoder, decoder, image, name="one_to_many")
        return compile_model(
            model,
            hp,
            loss="sparse_categorical_crossentropy",
            weighted_metrics=["accuracy"],
            learning_rate=3e-3,
        )

    @staticmethod
    def _image_features(hp: kt.HyperParameters, image: keras.KerasTensor) -> keras.KerasTensor:
        """The encoder's grid of image features: the zoo's CNN trained from scratch, or, with
        `encoder` set, a `keras.applications` backbone (ImageNet weights with
        `encoder_weights=imagenet`, downloaded by Keras: a network is needed).

        Args:
            hp: the model's hyperparameters; reads (and declares) `encoder`,
                `encoder_weights`, and for the CNN `cnn_filters`, `cnn_convs`, `cnn_blocks`.
            image: the uint8 image input (batch, height, width, 3).

        Returns:
            float (batch, grid height, grid width, channels).
        """
        # fixed, not searched: a tuner trying backbones would mostly measure their size
        backbone = hp.Fixed("encoder", "cnn")
        weights = hp.Fixed("encoder_weights", "none")
        if backbone != "cnn":
            if backbone not in BACKBONES:
                raise UnknownNameError("encoder", backbone, ["cnn", *BACKBONES])
            # these backbones scale and normalise 0-255 pixels themselves
            x = keras.layers.Rescaling(1.0, name="to_float")(image)
            net = getattr(keras.applications, BACKBONES[backbone])(
                include_top=False,
                weights=None if weights == "none" else weights,
                input_shape=tuple(image.shape[1:]),
            )
            return net(x)
        x = keras.layers.Rescaling(1.0 / 255.0, name="rescale")(image)
        filters = hp.Int("cnn_filters", 16, 128, step=16, default=32)
        convs = hp.Int("cnn_convs", 1, 3, default=1)
        for block in range(hp.Int("cnn_blocks", 2, 5, default=4)):
            for conv in range(convs):
                # the first convolution of a block keeps the old single-convolution name
                suffix = f"{block}" if conv == 0 else f"{block}_{conv}"
                x = keras.layers.Conv2D(
                    filters * 2**block,
                    3,
                    padding="same",
                    activation="relu",
                    name=f"conv_{suffix}",
                )(x)
                x = keras.layers.BatchNormalization(name=f"bn_{suffix}")(x)
            x = keras.layers.MaxPooling2D(name=f"pool_{block}")(x)
        return x

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

    def attention(
        self, model: keras.Model, encoder_inputs: np.ndarray, tokens: list[list[str]]
    ) -> list[dict[str, Any]]:
        """Where the decoder looked on the image while it wrote each word of a caption: the
        caption is fed back to the decoder (teacher forcing), which reproduces the weights of
        the steps that emitted it.

        Args:
            model: a model with `attention=soft`.
            encoder_inputs: uint8 images (batch, height, width, 3), as `encoder_inputs` makes.
            tokens: per image, the words of its caption (`generate`).

        Returns:
            Per image `{"tokens": its words, "weights": float32 (words, grid height, grid
            width), each word's weights summing to 1 over the grid, "image": the uint8 image
            the model read}`.

        Raises:
            BadInputError: the model does not attend (`attention=none`, e.g. version 1 models).
        """
        encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
        if "attention" not in {layer.name for layer in decoder.layers}:
            raise BadInputError(
                "this captioning model has no attention (it was built with attention=none): "
                "train one with --set attention=soft to see where it looks."
            )
        weights_of = keras.Model(decoder.inputs, decoder.get_layer("attention").output[1])
        grid, *states = encoder(encoder_inputs, training=False)
        start = self.preprocessing.vocabulary.index(text.START) + 2
        steps = max(map(len, tokens))
        ids = np.zeros((len(tokens), steps + 1), dtype=np.int32)  # right-padded with 0
        for row, words in enumerate(tokens):
            ids[row, : len(words) + 1] = [start, *self._lookup(tf.constant(words, tf.string))]
        weights = keras.ops.convert_to_numpy(
            weights_of([keras.ops.convert_to_tensor(ids), grid, *states], training=False)
        )
        _, grid_height, grid_width, _ = encoder.get_layer("grid").input.shape
        return [
            {
                "tokens": words,
                "weights": weights[row, : len(words)].reshape(len(words), grid_height, grid_width),
                "image": encoder_inputs[row],
            }
            for row, words in enumerate(tokens)
        ]
